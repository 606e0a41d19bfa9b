package bench

import (
	"math"
	"slices"
	"time"
)

// Sample is one measured run of a command tree: the command and every
// process it waited for.
type Sample struct {
	Wall time.Duration
	// CPU is user plus system time of the process tree.
	CPU time.Duration
	// ServerCPU is the CPU time the PostgreSQL server spent meanwhile
	// (backends serving the dumps or restores).
	ServerCPU time.Duration
	// PeakRSS is the largest resident set of any single process of the
	// tree (getrusage's ru_maxrss), in bytes.
	PeakRSS int64
	// Output is the size in bytes of what the run left behind (archives,
	// repository); 0 when it writes nothing.
	Output int64
}

// Median returns the element-wise median of samples: the median wall time,
// the median CPU time, and so on, each taken on its own. An even count
// averages the two middle values. It returns the zero Sample for none.
func Median(samples []Sample) Sample {
	if len(samples) == 0 {
		return Sample{}
	}
	pick := func(f func(Sample) int64) int64 {
		v := make([]int64, len(samples))
		for i, s := range samples {
			v[i] = f(s)
		}
		slices.Sort(v)
		mid := len(v) / 2
		if len(v)%2 == 1 {
			return v[mid]
		}
		return (v[mid-1] + v[mid]) / 2
	}
	return Sample{
		Wall:      time.Duration(pick(func(s Sample) int64 { return int64(s.Wall) })),
		CPU:       time.Duration(pick(func(s Sample) int64 { return int64(s.CPU) })),
		ServerCPU: time.Duration(pick(func(s Sample) int64 { return int64(s.ServerCPU) })),
		PeakRSS:   pick(func(s Sample) int64 { return s.PeakRSS }),
		Output:    pick(func(s Sample) int64 { return s.Output }),
	}
}

// Ratio returns num/den, or NaN when den is not positive, so that a missing
// or empty baseline shows as "n/a" rather than as infinity or zero.
func Ratio(num, den float64) float64 {
	if den <= 0 {
		return math.NaN()
	}
	return num / den
}
