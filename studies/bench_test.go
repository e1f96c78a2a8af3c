package studies_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/fhetune/fhetune/studies"
)

// BenchmarkComplete measures trial completions per second, each one a transaction that
// stores the values and updates the Pareto front. The trials are started before the
// timer runs.
//
//   - front=random: two objectives with uniform random values (the front stays small,
//     about ln n members);
//   - front=64: the study starts with a 64-member front and every new trial is
//     dominated by one member, so each completion compares against all 64.
func BenchmarkComplete(b *testing.B) {
	b.Run("front=random", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(3, 4))
		benchComplete(b, 0, func(int) []float64 { return []float64{rng.Float64(), rng.Float64()} })
	})
	b.Run("front=64", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(5, 6))
		benchComplete(b, 64, func(int) []float64 {
			i := float64(rng.IntN(64))
			return []float64{i/64 - 0.001, i + 0.5}
		})
	})
}

func benchComplete(b *testing.B, frontSize int, values func(int) []float64) {
	ctx := context.Background()
	s, _ := openTemp(b)
	st := createStudy(b, s, "bench")
	for i := range frontSize { // the front: accuracy i/64 at latency i
		t, err := s.StartTrial(ctx, st.ID, "seed")
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Complete(ctx, t.ID, []float64{float64(i) / 64, float64(i)}, nil); err != nil {
			b.Fatal(err)
		}
	}
	ids := make([]int64, b.N)
	for i := range ids {
		t, err := s.StartTrial(ctx, st.ID, "bench")
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = t.ID
	}
	vals := make([][]float64, b.N)
	for i := range vals {
		vals[i] = values(i)
	}
	b.ResetTimer()
	for i, id := range ids {
		if err := s.Complete(ctx, id, vals[i], nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "completions/s")
	if frontSize > 0 {
		front, err := s.ParetoFront(ctx, st.ID)
		if err != nil || len(front) != frontSize {
			b.Fatalf("front has %d members (%v), want %d", len(front), err, frontSize)
		}
	}
}

// BenchmarkTrialCycle measures whole trials: start, set two parameters, heartbeat,
// complete (four transactions).
func BenchmarkTrialCycle(b *testing.B) {
	ctx := context.Background()
	s, _ := openTemp(b)
	st := createStudy(b, s, "bench")
	rng := rand.New(rand.NewPCG(7, 8))
	b.ResetTimer()
	for range b.N {
		t, err := s.StartTrial(ctx, st.ID, "bench")
		if err != nil {
			b.Fatal(err)
		}
		x, y := rng.Float64(), rng.Float64()
		if err := s.SetParams(ctx, t.ID, []studies.Param{{Name: "x", Value: x}, {Name: "y", Value: y}}); err != nil {
			b.Fatal(err)
		}
		if err := s.Heartbeat(ctx, t.ID); err != nil {
			b.Fatal(err)
		}
		if err := s.Complete(ctx, t.ID, objectiveValues(x, y), nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "trials/s")
}
