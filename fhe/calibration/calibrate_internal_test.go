package calibration

import (
	"errors"
	"slices"
	"testing"

	"github.com/fhetune/fhetune/fhe"
)

func TestGroupSpreadsSizesWithinBudget(t *testing.T) {
	// Five sets whose keys grow with N: set 3 (N = 2^13) alone outweighs the four
	// others. Dealt largest first, each to the group holding fewer bytes, set 3 fills
	// one group and the rest share the other.
	lits := []fhe.ParamsLiteral{
		{GLWERank: 1, LogPolyDegree: 10, LWEDimension: 600, BRLevel: 1, BRLogBase: 20, KSLevel: 4, KSLogBase: 4},
		{GLWERank: 1, LogPolyDegree: 11, LWEDimension: 700, BRLevel: 1, BRLogBase: 20, KSLevel: 4, KSLogBase: 4},
		{GLWERank: 1, LogPolyDegree: 12, LWEDimension: 800, BRLevel: 1, BRLogBase: 20, KSLevel: 4, KSLogBase: 4},
		{GLWERank: 1, LogPolyDegree: 13, LWEDimension: 900, BRLevel: 1, BRLogBase: 20, KSLevel: 4, KSLogBase: 4},
		{GLWERank: 1, LogPolyDegree: 10, LWEDimension: 610, BRLevel: 1, BRLogBase: 20, KSLevel: 4, KSLogBase: 4},
	}
	targets := make([]Target, len(lits))
	bytes := make([]float64, len(lits))
	total := 0.0
	for i, l := range lits {
		p, err := l.Compile()
		if err != nil {
			t.Fatal(err)
		}
		targets[i] = Target{Params: p}
		bytes[i] = KeyBytes(p)
		total += bytes[i]
	}
	one, err := group(targets, total)
	if err != nil || len(one) != 1 || !slices.Equal(one[0], []int{0, 1, 2, 3, 4}) {
		t.Fatalf("budget of all keys: groups %v, error %v", one, err)
	}
	budget := bytes[3] + bytes[0] + bytes[4] // the largest set and the two smallest
	groups, err := group(targets, budget)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 2 || !slices.Equal(groups[0], []int{3}) || !slices.Equal(groups[1], []int{0, 1, 2, 4}) {
		t.Errorf("groups %v, want [[3] [0 1 2 4]]", groups)
	}
	for _, g := range groups {
		sum := 0.0
		for _, i := range g {
			sum += bytes[i]
		}
		if sum > budget {
			t.Errorf("group %v holds %g bytes over the budget %g", g, sum, budget)
		}
	}
	if _, err := group(targets, bytes[3]/2); !errors.Is(err, ErrRefused) {
		t.Errorf("a set larger than the budget: error %v, want ErrRefused", err)
	}
}
