package fhe_test

import (
	"fmt"
	"testing"

	"github.com/fhetune/fhetune/fhe"
)

// BenchmarkOptimize measures the optimizer (goals: an uncached query under 20 ms, the
// whole table under 0.5 s, a cached query under 1 µs, on one core):
//   - cold: a new Optimizer answering one query, decomposition tables included;
//   - uncached/bits=P/log2norm2=L: a new query each iteration (the p_error target moves
//     by 1e-12 relative) on an optimizer whose decomposition tables are built;
//   - table: a new Optimizer answering precision 1..8 × log2 norm2 0..30;
//   - table-warm: the same 248 queries, new ones each time, with the tables built;
//   - cached: a query answered before.
func BenchmarkOptimize(b *testing.B) {
	b.Run("cold/bits=4", func(b *testing.B) {
		for b.Loop() {
			o, err := fhe.NewOptimizer()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := o.Optimize(fhe.Query{Precision: 4, PError: fhe.ReferencePError}); err != nil {
				b.Fatal(err)
			}
		}
	})
	warm, err := fhe.NewOptimizer()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := warm.Optimize(fhe.Query{Precision: 1, PError: 0.5}); err != nil {
		b.Fatal(err)
	}
	// i numbers the queries across every call of the sub-benchmarks (the framework may
	// call one more than once), so that no query is ever answered from the memo.
	i := 0
	for _, c := range []struct{ bits, log2Norm2 int }{{1, 0}, {2, 10}, {4, 0}, {4, 20}, {6, 0}, {8, 0}, {8, 10}} {
		b.Run(fmt.Sprintf("uncached/bits=%d/log2norm2=%d", c.bits, c.log2Norm2), func(b *testing.B) {
			for b.Loop() {
				i++
				q := fhe.Query{Precision: c.bits, Log2Norm2: float64(c.log2Norm2), PError: fhe.ReferencePError * (1 - 1e-12*float64(i))}
				if _, err := warm.Optimize(q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("table/bits=1..8/log2norm2=0..30", func(b *testing.B) {
		for b.Loop() {
			o, err := fhe.NewOptimizer()
			if err != nil {
				b.Fatal(err)
			}
			for bits := 1; bits <= 8; bits++ {
				for l := 0; l <= 30; l++ {
					o.Optimize(fhe.Query{Precision: bits, Log2Norm2: float64(l), PError: fhe.ReferencePError})
				}
			}
		}
	})
	b.Run("table-warm/bits=1..8/log2norm2=0..30", func(b *testing.B) {
		for b.Loop() {
			i++
			pe := fhe.ReferencePError * (1 - 1e-12*float64(i))
			for bits := 1; bits <= 8; bits++ {
				for l := 0; l <= 30; l++ {
					warm.Optimize(fhe.Query{Precision: bits, Log2Norm2: float64(l), PError: pe})
				}
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		q := fhe.Query{Precision: 4, Log2Norm2: 3, PError: fhe.ReferencePError}
		if _, err := warm.Optimize(q); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := warm.Optimize(q); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCircuitMono measures the mono-parameter search for a three-group circuit.
func BenchmarkCircuitMono(b *testing.B) {
	o, err := fhe.NewOptimizer()
	if err != nil {
		b.Fatal(err)
	}
	groups := []fhe.TLUGroup{{Precision: 3, Log2Norm2: 4, Count: 1000}, {Precision: 5, Log2Norm2: 2, Count: 50}, {Precision: 2, Log2Norm2: 10, Count: 10}}
	for b.Loop() {
		if _, err := o.Circuit(fhe.CircuitQuery{Groups: groups, GlobalPError: 0.01, Strategy: fhe.MonoParameter}); err != nil {
			b.Fatal(err)
		}
	}
}
