module poolscope.dev/bench/gopeer

go 1.19
