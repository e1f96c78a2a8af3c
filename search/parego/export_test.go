package parego

// EHVI2 exposes ehvi2 to the external tests.
func EHVI2(front [][]float64, ref [2]float64, mu, sd [2]float64) float64 {
	return ehvi2(front, ref, mu, sd)
}
