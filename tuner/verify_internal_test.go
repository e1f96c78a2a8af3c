package tuner

import (
	"math"
	"testing"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/fhe/calibration"
)

// TestScaledTiming checks the latency model at measured set speed: a set's bootstrap
// and keyswitch times scale by its ratio, other sets and levelled work do not.
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
	base := env.Timing
	s := scaledTiming{base, map[fhe.ParamsLiteral]float64{p.Literal(): 1.5}}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"pbs", s.PBSMillis(p), 1.5 * base.PBSMillis(p)},
		{"bootstrap", s.BootstrapMillis(p), 1.5 * base.BootstrapMillis(p)},
		{"parallel", s.ParallelMillis(p, 2), 1.5 * base.ParallelMillis(p, 2)},
		{"keyswitch from p", s.KeySwitchMillis(p, q, 3), 1.5 * base.KeySwitchMillis(p, q, 3)},
		{"other set", s.PBSMillis(q), base.PBSMillis(q)},
		{"levelled", s.LevelledMillis(p, 1000), base.LevelledMillis(p, 1000)},
	} {
		if math.Abs(c.got-c.want) > 1e-12*c.want || !(c.want > 0) {
			t.Errorf("%s: %g, want %g", c.name, c.got, c.want)
		}
	}
}
