package tuner

import (
	"math"
	"testing"
)

func TestCostsNoMore(t *testing.T) {
	base := Knobs{NWBits: 3, NABits: 3, Pruning: 0.2, Sparsity: 0.1, NAccumBits: 12, Training: TrainingQAT}
	with := func(f func(*Knobs)) Knobs { k := base; f(&k); return k }
	for _, tc := range []struct {
		name string
		a    Knobs
		want bool
	}{
		{"same", base, true},
		{"fewer weight bits", with(func(k *Knobs) { k.NWBits = 2 }), true},
		{"more activation bits", with(func(k *Knobs) { k.NABits = 4 }), false},
		{"fewer input bits", with(func(k *Knobs) { k.NInputBits = 2 }), true},
		{"more input bits", with(func(k *Knobs) { k.NInputBits = 5 }), false},
		{"more pruned", with(func(k *Knobs) { k.Pruning = 0.5 }), true},
		{"less pruned", with(func(k *Knobs) { k.Pruning = 0 }), false},
		{"sparser", with(func(k *Knobs) { k.Sparsity = 0.3 }), true},
		{"denser", with(func(k *Knobs) { k.Sparsity = 0 }), false},
		{"narrower accumulators", with(func(k *Knobs) { k.NAccumBits = 10 }), true},
		{"unbounded accumulators", with(func(k *Knobs) { k.NAccumBits = 0 }), false},
		{"power-of-two scaling differs", with(func(k *Knobs) { k.PowerOfTwoScaling = true }), false},
		{"other qat_epochs", with(func(k *Knobs) { k.QATEpochs = 9 }), true},
		{"cheaper in one, dearer in another", with(func(k *Knobs) { k.NWBits, k.NABits = 2, 4 }), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := costsNoMore(tc.a, base); got != tc.want {
				t.Errorf("costsNoMore(%+v, base) = %v, want %v", tc.a, got, tc.want)
			}
		})
	}
	if !costsNoMore(base, with(func(k *Knobs) { k.NAccumBits = 0 })) {
		t.Error("a bounded accumulator should cost no more than an unbounded one")
	}
}

func TestPruneRules(t *testing.T) {
	qat := func(w, a int) Knobs { return Knobs{NWBits: w, NABits: a, Training: TrainingQAT} }
	me := qat(4, 4)
	// Three trainings of cheaper networks, their validation accuracy at epochs 1..3.
	cheap := []trainingCurve{
		{knobs: qat(2, 4), values: map[int]float64{0: 0.5, 1: 0.70, 2: 0.80, 3: 0.82}},
		{knobs: qat(4, 3), values: map[int]float64{0: 0.5, 1: 0.75, 2: 0.85, 3: 0.86}},
		{knobs: qat(3, 3), values: map[int]float64{0: 0.5, 1: 0.78, 2: 0.90, 3: 0.91}},
	}
	dear := []trainingCurve{
		{knobs: qat(5, 4), values: map[int]float64{1: 0.95, 2: 0.97}},
		{knobs: qat(4, 5), values: map[int]float64{1: 0.95, 2: 0.97}},
		{knobs: Knobs{NWBits: 2, NABits: 2, PowerOfTwoScaling: true, Training: TrainingQAT}, values: map[int]float64{1: 0.95, 2: 0.97}},
	}
	short := []trainingCurve{
		{knobs: qat(2, 2), values: map[int]float64{1: 0.9}},
		{knobs: qat(2, 3), values: map[int]float64{1: 0.9}},
		{knobs: qat(3, 2), values: map[int]float64{1: 0.9}},
	}
	median := pruneRule{keep: 50, startup: 3, warmup: 1}
	dominated := pruneRule{keep: 0, startup: 1, warmup: 1}
	for _, tc := range []struct {
		name       string
		rule       pruneRule
		curve      map[int]float64
		done       []trainingCurve
		prune      bool
		threshold  float64 // NaN: none
		comparable int
	}{
		{"median: below the median of cheaper networks", median, map[int]float64{1: 0.6, 2: 0.7}, cheap, true, 0.85, 3},
		{"median: at the median", median, map[int]float64{1: 0.6, 2: 0.85}, cheap, false, 0.85, 3},
		{"median: above the median", median, map[int]float64{1: 0.6, 2: 0.88}, cheap, false, 0.85, 3},
		{"median: the best epoch so far counts", median, map[int]float64{1: 0.87, 2: 0.7}, cheap, false, 0.85, 3},
		{"median: epoch 0 does not count", median, map[int]float64{0: 0.99, 1: 0.6, 2: 0.7}, cheap, true, 0.85, 3},
		{"median: warm-up epoch", median, map[int]float64{1: 0.1}, cheap, false, 0.75, 3},
		{"median: no warm-up", pruneRule{keep: 50, startup: 3}, map[int]float64{1: 0.1}, cheap, true, 0.75, 3},
		{"median: too few comparable trainings", pruneRule{keep: 50, startup: 4, warmup: 1}, map[int]float64{1: 0.6, 2: 0.7}, cheap, false, 0.85, 3},
		{"median: of two", pruneRule{keep: 50, startup: 2, warmup: 1}, map[int]float64{1: 0.6, 2: 0.7}, cheap[:2], true, 0.825, 2},
		{"median: dearer or incomparable networks do not count", median, map[int]float64{1: 0.6, 2: 0.7}, dear, false, math.NaN(), 0},
		{"median: cheaper among dearer", median, map[int]float64{1: 0.6, 2: 0.7}, append(append([]trainingCurve(nil), dear...), cheap...), true, 0.85, 3},
		{"median: comparable trainings that stopped earlier", median, map[int]float64{1: 0.6, 2: 0.7}, short, false, math.NaN(), 3},
		{"median: no trained epoch yet", median, map[int]float64{0: 0.1}, cheap, false, math.NaN(), 0},
		{"dominated: below the best cheaper network", dominated, map[int]float64{1: 0.6, 2: 0.88}, cheap, true, 0.90, 3},
		{"dominated: as good as the best", dominated, map[int]float64{1: 0.6, 2: 0.90}, cheap, false, 0.90, 3},
		{"dominated: one cheaper training is enough", dominated, map[int]float64{1: 0.6, 2: 0.84}, cheap[1:2], true, 0.85, 1},
		{"dominated: startup 2 waits for a second", pruneRule{startup: 2, warmup: 1}, map[int]float64{1: 0.6, 2: 0.84}, cheap[1:2], false, 0.85, 1},
		{"dominated: warm-up epoch", dominated, map[int]float64{1: 0.1}, cheap, false, 0.78, 3},
		{"dominated: dearer networks do not count", dominated, map[int]float64{1: 0.6, 2: 0.7}, dear, false, math.NaN(), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := tc.rule.judge(me, tc.curve, tc.done)
			if err != nil {
				t.Fatal(err)
			}
			same := v.threshold == tc.threshold || math.IsNaN(v.threshold) && math.IsNaN(tc.threshold) ||
				math.Abs(v.threshold-tc.threshold) < 1e-12
			if v.prune != tc.prune || v.comparable != tc.comparable || !same {
				t.Errorf("judge = %+v, want prune %v, threshold %v, %d comparable", v, tc.prune, tc.threshold, tc.comparable)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		q    float64
		want float64
	}{
		{[]float64{3}, 50, 3}, {[]float64{4, 1, 3}, 50, 3}, {[]float64{4, 1, 3, 2}, 50, 2.5},
		{[]float64{4, 1, 3, 2}, 100, 4}, {[]float64{0, 2, 4, 6, 8, 10}, 20, 2}, {[]float64{0, 10}, 75, 7.5},
	} {
		if got := percentile(tc.xs, tc.q); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("percentile(%v, %v) = %v, want %v", tc.xs, tc.q, got, tc.want)
		}
	}
	if !math.IsNaN(percentile(nil, 50)) {
		t.Error("percentile of nothing should be NaN")
	}
}
