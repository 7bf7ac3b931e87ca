# tests/bench/failover_plot.gp - the failover bench's figure
# (tests/bench/failover.sh).
# gnuplot -e "cdffile='C'; ovhfile='O'; outfile='F.png'; npoints=N" failover_plot.gp
#   cdffile: one block per crash point (a quoted title line, then "gap_ms
#            fraction" rows sorted by gap), blocks separated by two blank lines
#   ovhfile: "metric ratio" rows: the stack's median time per action over
#            direct access
set terminal pngcairo size 1400,550 noenhanced font ",10"
set output outfile
set multiplot layout 1,2 title "failover bench: webmail on b1, b2 alternate (b1's link down)"

set title "longest wait for a byte during a failover (CDF over trials)"
set xlabel "gap seen by the client (ms)"
set ylabel "fraction of trials"
set yrange [0:1.05]
set grid
set key bottom right
set arrow from 300, graph 0 to 300, graph 1 nohead dt 2 lc rgb "#555555"
set arrow from 1000, graph 0 to 1000, graph 1 nohead dt 3 lc rgb "#555555"
plot for [i=0:npoints-1] cdffile index i using 1:2 with steps lw 2 title columnheader(1)

unset arrow
set title "normal operation: time per action, stack / direct"
set xlabel ""
set ylabel "ratio (1.0 = direct access)"
set yrange [0.9:*]
set style data histogram
set style fill solid 0.8 border -1
set key off
plot ovhfile using 2:xtic(1) lc rgb "#4477aa", 1.03 with lines dt 2 lc rgb "#aa3333" title "target 1.03"
unset multiplot
