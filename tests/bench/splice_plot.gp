# tests/bench/splice_plot.gp - the splice bench's figure (tests/bench/splice.sh).
# gnuplot -e "datafile='R'; cpufile='C'; outfile='O.png'; ncfg=N" splice_plot.gp
#   datafile: header "metric CFG1 CFG2 ...", then one row per metric with the
#             median ratio to kernel forwarding of each configuration (NaN: none)
#   cpufile:  header "config bulk all splitd", one row per configuration: CPU
#             seconds of its proxy process per GB the client moved (bulk phase,
#             whole round) and of craft-splitd on the backend (whole round;
#             NaN except for split splice)
set terminal pngcairo size 1400,600 noenhanced font ",10"
set output outfile
set multiplot layout 1,2 title "splice bench: craft-proxy vs HAProxy vs kernel forwarding (same path cl-lb-p1-lg-b1, medians)"

set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key top left autotitle columnhead
set grid ytics
set yrange [0:*]
set xtics rotate by -20 left

set title "ratio to kernel forwarding (throughput: higher is better; p99: lower is better)"
set ylabel "ratio (1.0 = kernel)"
plot for [i=2:ncfg+1] datafile using i:xtic(1), 1.0 with lines dt 2 lc rgb "#555555" notitle

set title "CPU-seconds per GB the client moved (lower is better)"
set ylabel "CPU-seconds / GB"
set xtics norotate
set key below
plot cpufile using 2:xtic(1) title "proxy process, bulk phase", \
     '' using 3 title "proxy process, whole round (bulk + wrk)", \
     '' using 4 title "craft-splitd on b1, whole round"
unset multiplot
