# tests/bench/plot.gp - bar chart of benchmark ratios (config / baseline).
# gnuplot -e "datafile='F'; outfile='O.png'; plottitle='T'" tests/bench/plot.gp
# datafile rows: "label" ratio target kind
#   target NaN when there is none; kind 1 = higher is better (throughput),
#   kind 2 = lower is better (latency, cost)
if (!exists("plottitle")) plottitle = "ratio to kernel forwarding"
set terminal pngcairo size 1000,560 noenhanced font ",10"
set output outfile
set title plottitle . "\nmedian ratio to the baseline; blue: higher is better, orange: lower is better, red line: target"
set style data histogram
set style fill solid 0.7 border -1
set boxwidth 0.6 absolute
set yrange [0:*]
set mytics 2
set grid ytics
set ylabel "ratio (1.0 = baseline)"
set xtics rotate by -30 left
# two-line labels ("metric\nconfig") need room below the axis
set bmargin 6
set key off
set offsets 0.5, 0.5, 0, 0
set palette defined (1 "#4477aa", 2 "#ee7733")
set cbrange [1:2]
unset colorbox
plot datafile using ($0):2:(0.6):4:xtic(1) with boxes lc palette, \
     '' using ($0):2:(sprintf("%.2f", $2)) with labels offset 0,0.7, \
     '' using ($0-0.35):3:(0.7):(0) with vectors nohead lw 3 lc rgb "#cc3311", \
     1.0 with lines dt 2 lc rgb "#555555"
