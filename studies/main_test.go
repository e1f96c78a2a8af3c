package studies_test

import (
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/fhetune/fhetune/studies"
)

// The crash and concurrency tests re-execute this test binary as helper processes;
// the environment tells a helper what to do.
const (
	helperEnv = "FHETUNE_STUDIES_HELPER" // "crash", "concurrent", "terminate" or "bench"
	dbEnv     = "FHETUNE_STUDIES_DB"     // database path or PostgreSQL URL
	seedEnv   = "FHETUNE_STUDIES_SEED"   // concurrent: the helper's seed and worker id
	countEnv  = "FHETUNE_STUDIES_COUNT"  // concurrent: trials to add
)

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "crash":
		os.Exit(helperMain(crashHelper))
	case "concurrent":
		os.Exit(helperMain(concurrentHelper))
	case "terminate":
		os.Exit(helperMain(terminateHelper))
	case "bench":
		os.Exit(helperMain(benchHelper))
	default:
		fmt.Fprintf(os.Stderr, "unknown %s=%q\n", helperEnv, os.Getenv(helperEnv))
		os.Exit(2)
	}
}

func helperMain(f func() error) int {
	if err := f(); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	return 0
}

// objectiveValues is the test objective: from a parameter x in [0, 1) it gives an
// accuracy to maximize and a latency to minimize, with a bump so that some points are
// dominated and the front is neither everything nor one point.
func objectiveValues(x, y float64) []float64 {
	return []float64{x, 1 + 10*x*x + 3*y}
}

// recomputeFront returns the ids of the non-dominated trials among complete, by a
// direct O(n²) check written independently of the store's incremental update.
func recomputeFront(trials []studies.Trial, dirs []studies.Direction) map[int64]bool {
	better := func(a, b []float64) bool { // a dominates b
		strictly := false
		for i, d := range dirs {
			x, y := a[i], b[i]
			if d == studies.Maximize {
				x, y = y, x
			}
			if x > y {
				return false
			}
			if x < y {
				strictly = true
			}
		}
		return strictly
	}
	front := map[int64]bool{}
	for _, t := range trials {
		if t.State != studies.Complete {
			continue
		}
		dominated := false
		for _, u := range trials {
			if u.State == studies.Complete && better(u.Values, t.Values) {
				dominated = true
				break
			}
		}
		if !dominated {
			front[t.ID] = true
		}
	}
	return front
}

// frac is the fractional part, used to derive deterministic parameters from numbers.
func frac(v float64) float64 { return v - math.Floor(v) }
