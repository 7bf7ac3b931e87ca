# tests/bench/detect_plot.gp - the failure-detection bench's figure
# (tests/bench/detect.sh): the distribution of detection latency over the
# frozen-backend trials next to the response times the detector tolerated
# without a false failure while the backend's latency varied by 10x.
# gnuplot -e "frozen='F'; variance='V'; outfile='detect.png'" detect_plot.gp
#   F, V: "quantile value_ms" per line, sorted
set terminal pngcairo size 900,600 noenhanced font ",11"
set output outfile
set title "Adaptive failure detection: latency of detection vs tolerated response times"
set xlabel "quantile"
set ylabel "milliseconds (log scale)"
set logscale y
set xrange [0:1]
set key top left
set grid
plot frozen using 1:2 with linespoints lw 2 pt 7 title "detection latency, frozen backend (request waiting -> declared)", \
     variance using 1:2 with lines lw 2 title "response time, 10x latency variance (no failure declared)"
