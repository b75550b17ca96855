// The Go peer of `poolscope bench`: the classic Go worker pool (W goroutines reading one buffered
// channel), measured the way the Swift rows are, and printed as one JSON object per run.
//
//	go run . -mode throughput -n 2000000 -workers 2 -job noop   # ns per job
//	go run . -mode io -workers 200 -rate 1800 -seconds 20        # CPU µs per job of sleeping jobs
//	go run . -mode idle -workers 200 -seconds 10                 # CPU share of idle workers
//
// `poolscope bench` builds and runs it when `go` is installed (apt-get install golang-go).
package main

import (
	"encoding/json"
	"flag"
	"math/rand"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type result struct {
	Mode            string  `json:"mode"`
	Job             string  `json:"job,omitempty"`
	Workers         int     `json:"workers"`
	Jobs            int     `json:"jobs"`
	NsPerJob        float64 `json:"ns_per_job,omitempty"`
	CPUMicrosPerJob float64 `json:"cpu_us_per_job,omitempty"`
	CPUPercent      float64 `json:"cpu_percent,omitempty"`
	ExactlyOnce     bool    `json:"exactly_once"`
}

func cpuSeconds() float64 {
	var usage syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &usage)
	return float64(usage.Utime.Nano()+usage.Stime.Nano()) / 1e9
}

// spinRounds calibrates a loop to about one microsecond.
func spinRounds() int {
	rounds := 1 << 20
	for {
		start := time.Now()
		spin(rounds)
		elapsed := time.Since(start)
		if elapsed > 20*time.Millisecond {
			return int(float64(rounds) * float64(time.Microsecond) / float64(elapsed))
		}
		rounds *= 2
	}
}

var sink uint64

func spin(rounds int) {
	x := uint64(1)
	for i := 0; i < rounds; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	atomic.AddUint64(&sink, x&1)
}

func throughput(n, workers int, job string) result {
	rounds := 0
	if job == "1us" {
		rounds = spinRounds()
	}
	counts := make([]uint8, n)
	var done int64
	jobs := make(chan int, 1024)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for index := range jobs {
				if rounds > 0 {
					spin(rounds)
				}
				counts[index]++
				atomic.AddInt64(&done, 1)
			}
		}()
	}
	for index := 0; index < n; index++ {
		jobs <- index
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	once := true
	for _, c := range counts {
		if c != 1 {
			once = false
			break
		}
	}
	return result{Mode: "throughput", Job: job, Workers: workers, Jobs: n, NsPerJob: float64(elapsed.Nanoseconds()) / float64(n), ExactlyOnce: once && done == int64(n)}
}

func io(workers int, rate float64, seconds float64, mean time.Duration) result {
	jobs := make(chan time.Duration, 1<<16)
	var wg sync.WaitGroup
	var done int64
	random := rand.New(rand.NewSource(42))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sleep := range jobs {
				time.Sleep(sleep)
				atomic.AddInt64(&done, 1)
			}
		}()
	}
	before := cpuSeconds()
	start := time.Now()
	next := time.Duration(0)
	submitted := 0
	for next.Seconds() < seconds {
		next += time.Duration(random.ExpFloat64() / rate * float64(time.Second))
		if wait := next - time.Since(start); wait > 0 {
			time.Sleep(wait)
		}
		jobs <- time.Duration(random.ExpFloat64() * float64(mean))
		submitted++
	}
	close(jobs)
	wg.Wait()
	used := cpuSeconds() - before
	return result{Mode: "io", Workers: workers, Jobs: submitted, CPUMicrosPerJob: used * 1e6 / float64(submitted), ExactlyOnce: done == int64(submitted)}
}

func idle(workers int, seconds float64) result {
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
			}
		}()
	}
	before := cpuSeconds()
	time.Sleep(time.Duration(seconds * float64(time.Second)))
	used := cpuSeconds() - before
	close(jobs)
	wg.Wait()
	return result{Mode: "idle", Workers: workers, CPUPercent: used * 100 / seconds, ExactlyOnce: true}
}

func main() {
	mode := flag.String("mode", "throughput", "throughput, io or idle")
	n := flag.Int("n", 1000000, "jobs (throughput)")
	workers := flag.Int("workers", 2, "workers")
	job := flag.String("job", "noop", "noop or 1us (throughput)")
	rate := flag.Float64("rate", 1800, "arrivals per second (io)")
	seconds := flag.Float64("seconds", 20, "length of the run (io, idle)")
	mean := flag.Duration("mean", 100*time.Millisecond, "mean sleep of a job (io)")
	flag.Parse()
	var r result
	switch *mode {
	case "throughput":
		r = throughput(*n, *workers, *job)
	case "io":
		r = io(*workers, *rate, *seconds, *mean)
	case "idle":
		r = idle(*workers, *seconds)
	default:
		os.Stderr.WriteString("unknown -mode " + *mode + "\n")
		os.Exit(2)
	}
	json.NewEncoder(os.Stdout).Encode(r)
}
