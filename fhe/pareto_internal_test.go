package fhe

import "testing"

// TestParetoKeySwitchMatchesFullScan checks the pruned keyswitch table builder against
// the full scan of every base of every level, for every n of the default space and more.
func TestParetoKeySwitchMatchesFullScan(t *testing.T) {
	var decTerm [logQ + 1][logQ + 1]float64
	var b2p2 [logQ + 1]float64
	for b := 1; b <= logQ; b++ {
		b2p2[b] = pow2(2*b) + 2
		for level := 1; level*b <= logQ; level++ {
			decTerm[level][b] = keySwitchDecompositionTerm(level, b)
		}
	}
	for n := 450; n <= 4096; n++ {
		vKSK, err := MinVariance(n, 128)
		if err != nil {
			t.Fatal(err)
		}
		full := paretoDecompositions(func(level, logBase int) float64 {
			return keySwitchVariancePerCoefficient(level, logBase, vKSK)
		})
		fast := paretoKeySwitch(&decTerm, &b2p2, vKSK)
		if len(full) != len(fast) {
			t.Fatalf("n=%d: %d entries, full scan %d: %v vs %v", n, len(fast), len(full), fast, full)
		}
		for i := range full {
			if full[i] != fast[i] {
				t.Fatalf("n=%d entry %d: %+v, full scan %+v", n, i, fast[i], full[i])
			}
		}
	}
}
