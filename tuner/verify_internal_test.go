package tuner

import (
	"math"
	"testing"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/fhe/calibration"
)

// TestScaledTiming checks the latency model at measured set speed: a set's bootstrap
// and keyswitch times scale by its ratio, its times with several cores busy by its
// all-cores ratio when it has one, other sets and levelled work do not.
func TestScaledTiming(t *testing.T) {
	pr, err := calibration.Default()
	if err != nil {
		t.Fatal(err)
	}
	env, err := NewProfileEnv(pr, "default")
	if err != nil {
		t.Fatal(err)
	}
	p := fhe.ParamsLiteral{GLWERank: 1, LogPolyDegree: 11, LWEDimension: 796, BRLevel: 2, BRLogBase: 15, KSLevel: 5, KSLogBase: 3}.MustCompile()
	q := fhe.ParamsLiteral{GLWERank: 2, LogPolyDegree: 10, LWEDimension: 760, BRLevel: 2, BRLogBase: 15, KSLevel: 4, KSLogBase: 3}.MustCompile()
	o := fhe.ParamsLiteral{GLWERank: 1, LogPolyDegree: 10, LWEDimension: 700, BRLevel: 2, BRLogBase: 15, KSLevel: 5, KSLogBase: 3}.MustCompile()
	base := env.Timing
	s := scaledTiming{base, map[fhe.ParamsLiteral]float64{p.Literal(): 1.5, q.Literal(): 0.8},
		map[fhe.ParamsLiteral]float64{q.Literal(): 1.3}}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"pbs", s.PBSMillis(p), 1.5 * base.PBSMillis(p)},
		{"bootstrap", s.BootstrapMillis(p), 1.5 * base.BootstrapMillis(p)},
		{"parallel", s.ParallelMillis(p, 2), 1.5 * base.ParallelMillis(p, 2)},
		{"keyswitch from p", s.KeySwitchMillis(p, q, 3), 1.5 * base.KeySwitchMillis(p, q, 3)},
		{"q alone", s.PBSMillis(q), 0.8 * base.PBSMillis(q)},
		{"q on one core of the parallel model", s.ParallelMillis(q, 1), 0.8 * base.ParallelMillis(q, 1)},
		{"q on all cores", s.ParallelMillis(q, 2), 1.3 * base.ParallelMillis(q, 2)},
		{"other set", s.PBSMillis(o), base.PBSMillis(o)},
		{"levelled", s.LevelledMillis(p, 1000), base.LevelledMillis(p, 1000)},
	} {
		if math.Abs(c.got-c.want) > 1e-12*c.want || !(c.want > 0) {
			t.Errorf("%s: %g, want %g", c.name, c.got, c.want)
		}
	}
}
