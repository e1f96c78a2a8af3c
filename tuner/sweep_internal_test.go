package tuner

import (
	"slices"
	"testing"

	"github.com/fhetune/fhetune/search"
	"github.com/fhetune/fhetune/studies"
)

func TestNeighbours(t *testing.T) {
	for _, c := range []struct {
		p    search.Param
		v    float64
		want []float64
	}{
		{search.Param{Name: "r", Kind: search.Int, Low: 3, High: 9}, 3, []float64{4}},
		{search.Param{Name: "r", Kind: search.Int, Low: 3, High: 9}, 6, []float64{5, 7}},
		{search.Param{Name: "r", Kind: search.Int, Low: 2, High: 8, Step: 2}, 8, []float64{6}},
		{search.Param{Name: "m", Kind: search.Categorical, Choices: []string{"a", "b", "c"}}, 1, []float64{0, 2}},
		{search.Param{Name: "f", Kind: search.Float, Low: 0, High: 0.8}, 0.4, []float64{0.30000000000000004, 0.5}},
		{search.Param{Name: "f", Kind: search.Float, Low: 0, High: 0.8}, 0, []float64{0.1}},
	} {
		if got := neighbours(c.p, c.v); !slices.Equal(got, c.want) {
			t.Errorf("neighbours(%v, %v) = %v, want %v", c.p, c.v, got, c.want)
		}
	}
	// Half a decade either side in log scale.
	p := search.Param{Name: "p_error", Kind: search.LogFloat, Low: 1e-5, High: 0.1}
	got := neighbours(p, 1e-3)
	if len(got) != 2 || got[0] < 3.1e-4 || got[0] > 3.2e-4 || got[1] < 3.1e-3 || got[1] > 3.2e-3 {
		t.Errorf("p_error neighbours of 1e-3: %v", got)
	}
}

func TestNetworkKey(t *testing.T) {
	ps := func(rt, pe, pot, training float64) []studies.Param {
		return []studies.Param{{Name: KnobNWBits, Value: 3}, {Name: KnobRoundingThresholdBits, Value: rt},
			{Name: KnobPError, Value: pe}, {Name: KnobPowerOfTwoScaling, Value: pot}, {Name: KnobTraining, Value: training}}
	}
	if networkKey(ps(4, 1e-3, 0, 1)) != networkKey(ps(0, 0.01, 0, 1)) {
		t.Error("post-training knobs change the network")
	}
	if networkKey(ps(4, 1e-3, 0, 1)) == networkKey(ps(4, 1e-3, 1, 1)) {
		t.Error("power_of_two_scaling does not change a qat network")
	}
	if networkKey(ps(4, 1e-3, 0, 0)) != networkKey(ps(4, 1e-3, 1, 0)) {
		t.Error("power_of_two_scaling changes a post-training network, which ignores it")
	}
	if networkKey(nil) != "" {
		t.Error("a trial without parameters has a network")
	}
}
