package archive

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/flate"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestZZLevels(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var dump bytes.Buffer
	dumpText(&dump, rng, 64<<20)
	src := sourceText(rng, 32<<20)
	chinook, _ := os.ReadFile("/work/shared/testdata/chinook.sql")
	pagila, _ := os.ReadFile("/work/shared/testdata/pagila-schema.sql")
	sql := bytes.Repeat(append(chinook, pagila...), 40)
	for name, data := range map[string][]byte{"dump": dump.Bytes(), "source": src, "sql": sql} {
		for _, lvl := range []int{1, 2, 3, 4, 5, 6, 9} {
			fw, _ := flate.NewWriter(io.Discard, lvl)
			var cw countW
			fw.Reset(&cw)
			start := cpuTime()
			fw.Write(data)
			fw.Close()
			d := cpuTime() - start
			t.Logf("%-6s L%d: %6.1f MB/s CPU  %5.1f%% size", name, lvl, float64(len(data))/d.Seconds()/1e6, float64(cw.n)/float64(len(data))*100)
		}
	}
}

type countW struct{ n int64 }

func (c *countW) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
