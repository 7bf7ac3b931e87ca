# tests/bench/tni_plot.gp - the transactional network interface bench's
# figure (tests/bench/tni.sh), shaped like the thesis' Fig. 6.11:
# transactions per second versus the first-attempt commit rate, one line per
# architecture, the non-transactional rate as a dashed line.
# gnuplot -e "datafile='tni-rates.csv'; outfile='tni.png'" tni_plot.gp
#   datafile: "rate,tla,2ca,sma,plain" then one row per commit rate (medians)
set terminal pngcairo size 900,600 noenhanced font ",11"
set output outfile
set datafile separator ","
set title "Transactional rate versus first-attempt commits (100 KB responses, 30/15 ms compute)"
set xlabel "first-attempt commit (%)"
set ylabel "transactions per second"
set xrange [-5:105]
set key bottom right
set grid
plot datafile every ::1 using 1:2 with linespoints lw 2 pt 7 title "TLA", \
     '' every ::1 using 1:3 with linespoints lw 2 pt 5 title "2CA", \
     '' every ::1 using 1:4 with linespoints lw 2 pt 9 title "SMA", \
     '' every ::1 using 1:5 with lines dt 2 lw 2 lc rgb "#555555" title "non-transactional"
