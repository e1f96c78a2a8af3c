package dataset_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/tuner/dataset"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
)

func TestStandardizer(t *testing.T) {
	d, err := dataset.Load("digits")
	if err != nil {
		t.Fatal(err)
	}
	s, err := d.Split(dataset.SplitConfig{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	st := dataset.FitStandardizer(s.Train.X)
	if err := st.Validate(); err != nil {
		t.Fatal(err)
	}
	z := st.Apply(s.Train.X)
	if mat.Equal(z, s.Train.X) {
		t.Fatal("Apply changed nothing")
	}
	r, c := z.Dims()
	constant := 0
	for j := range c {
		col := mat.Col(nil, j, z)
		mean, sd := stat.PopMeanStdDev(col, nil)
		raw := mat.Col(nil, j, s.Train.X)
		if mat.Max(mat.NewVecDense(r, raw)) == mat.Min(mat.NewVecDense(r, raw)) {
			// Pixel 0 and others are always 0 in the digits set: mapped to 0, Std 1.
			constant++
			if st.Std[j] != 1 || mean != 0 || sd != 0 {
				t.Errorf("constant column %d: Std %v, standardized mean %v sd %v", j, st.Std[j], mean, sd)
			}
			continue
		}
		if math.Abs(mean) > 1e-12 || math.Abs(sd-1) > 1e-12 {
			t.Errorf("column %d: standardized mean %v sd %v, want 0 and 1", j, mean, sd)
		}
	}
	if constant == 0 {
		t.Error("expected constant columns in the digits training set")
	}

	// Fitted on train, applied to test: a known value round-trips.
	zt := st.Apply(s.Test.X)
	if got, want := zt.At(0, 10), (s.Test.X.At(0, 10)-st.Mean[10])/st.Std[10]; math.Abs(got-want) > 1e-12 {
		t.Errorf("test[0][10] standardized to %v, want %v", got, want)
	}

	// In place gives the same as Apply.
	inPlace := mat.DenseCopyOf(s.Test.X)
	st.ApplyTo(inPlace, inPlace)
	if !mat.EqualApprox(inPlace, zt, 0) {
		t.Error("ApplyTo in place differs from Apply")
	}
}

func TestStandardizerNearConstant(t *testing.T) {
	// 0.1 three times: the float mean is not exactly 0.1, yet the column is constant.
	x := mat.NewDense(3, 2, []float64{0.1, 1, 0.1, 2, 0.1, 3})
	st := dataset.FitStandardizer(x)
	if st.Std[0] != 1 {
		t.Errorf("near-constant column: Std %v, want 1", st.Std[0])
	}
	if got := st.Apply(x).At(1, 1); math.Abs(got) > 1e-15 {
		t.Errorf("middle of 1,2,3 standardized to %v, want 0", got)
	}
}

func TestStandardizerJSON(t *testing.T) {
	st := dataset.FitStandardizer(mat.NewDense(2, 2, []float64{1, 5, 3, 5}))
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"mean":[2,5],"std":[1,1]}` {
		t.Errorf("JSON %s", b)
	}
	var back dataset.Standardizer
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := back.Validate(); err != nil || back.Mean[1] != 5 {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

func TestStandardizerValidate(t *testing.T) {
	tests := []struct {
		name string
		s    dataset.Standardizer
		want string
	}{
		{"empty", dataset.Standardizer{}, "0 means and 0 deviations"},
		{"lengths", dataset.Standardizer{Mean: []float64{0}, Std: []float64{1, 1}}, "1 means and 2 deviations"},
		{"NaN mean", dataset.Standardizer{Mean: []float64{math.NaN()}, Std: []float64{1}}, "mean 0 is NaN"},
		{"zero std", dataset.Standardizer{Mean: []float64{0, 0}, Std: []float64{1, 0}}, "deviation 1 is 0"},
		{"Inf std", dataset.Standardizer{Mean: []float64{0}, Std: []float64{math.Inf(1)}}, "deviation 0 is +Inf"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "dataset: ") {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestStandardizerPanicsOnMismatch(t *testing.T) {
	st := dataset.FitStandardizer(mat.NewDense(2, 3, nil))
	defer func() {
		if recover() == nil {
			t.Error("no panic applying a 3-column standardizer to 2 columns")
		}
	}()
	st.Apply(mat.NewDense(2, 2, nil))
}
