set terminal pngcairo size 1100,650 font ',11'
set output '/work/main/bench/results/blackout.png'
set title 'Guest-received UDP sequence numbers across one live migration (5000 pps, TCG guest)'
set xlabel 'guest arrival time (ms), 0 = start of the longest silence'
set ylabel 'sequence number - last one before the silence'
set grid
set key top left box opaque
set xrange [-100:400]
plot '/work/main/bench/results/raw/aligned-testpmd.dat' using 1:2 with points pt 7 ps 0.35 lc rgb '#d62728' title 'dpdk-testpmd: 500 lost, longest silence 140 ms', '/work/main/bench/results/raw/aligned-shim.dat' using 1:2 with points pt 7 ps 0.35 lc rgb '#1f77b4' title 'vhost-shim: 0 lost, longest silence 113 ms'
