package report_test

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/report"
)

// TestRenderEdgeCases renders studies at the edges of what the plots must handle and
// checks that every file is well formed and every complete trial has its marker.
func TestRenderEdgeCases(t *testing.T) {
	one := func(acc, lat float64) report.Trial {
		return report.Trial{Number: 0, State: report.StateComplete, Accuracy: acc, LatencyMs: lat, OnFront: true}
	}
	many := func(n int, f func(i int) report.Trial) []report.Trial {
		out := make([]report.Trial, n)
		for i := range out {
			out[i] = f(i)
			out[i].Number = i
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		study report.Study
		files []string // plot stems expected besides index.html
	}{
		{
			name:  "one trial, nothing else",
			study: report.Study{Name: "one", Trials: []report.Trial{one(0.5, 100)}},
			files: []string{"pareto"},
		},
		{
			name: "identical trials",
			study: report.Study{Name: "same", FloatAccuracy: 0.9,
				Trials: many(5, func(int) report.Trial {
					t := one(0.8, 300)
					t.Knobs = map[string]float64{"n_w_bits": 4, "pruning": 0.5}
					return t
				}),
				History: []report.HistoryPoint{{Trial: 0, Hypervolume: 0, BestAccuracy: 0.8}},
			},
			files: []string{"pareto", "history", "knobs"},
		},
		{
			name: "extreme values",
			study: report.Study{Name: "extremes", FloatAccuracy: 1,
				Trials: []report.Trial{
					{Number: 0, State: report.StateComplete, Accuracy: 0, LatencyMs: 0.5, OnFront: true,
						Knobs: map[string]float64{"p_error": 1e-12, "global_p_error": 0.5}},
					{Number: 1, State: report.StateComplete, Accuracy: 1, LatencyMs: 2e6, OnFront: true,
						Knobs: map[string]float64{"p_error": 0.9}},
				},
				Picks: []report.Pick{{Label: "a pick with a long label, to see where it goes & how it is escaped <ok>", Trial: 1},
					{Label: "other", Trial: 0}, {Label: "same trial", Trial: 1}},
			},
			files: []string{"pareto", "knobs"},
		},
		{
			name: "reversed directions",
			study: report.Study{Name: "reversed",
				Objectives: []report.Objective{{Name: "accuracy", Direction: "minimize"}, {Name: "latency_ms", Direction: "maximize"}},
				Trials: many(6, func(i int) report.Trial {
					return report.Trial{State: report.StateComplete, Accuracy: 0.1 * float64(i+1), LatencyMs: 100 * float64(i+1), OnFront: i%2 == 0}
				}),
			},
			files: []string{"pareto"},
		},
		{
			name: "2000 trials",
			study: report.Study{Name: "big", FloatAccuracy: 0.97,
				Trials: many(2000, func(i int) report.Trial {
					x := float64(i%97) / 97
					return report.Trial{State: report.StateComplete, Accuracy: 0.1 + 0.85*x, LatencyMs: 50 * (1 + 300*x*x) * (1 + float64(i%13)/13),
						OnFront: i%13 == 0, Knobs: map[string]float64{"n_a_bits": float64(2 + i%7), "p_error": 1e-5 * float64(1+i%1000)},
						Layers: []report.Layer{{Name: "l", TLUCount: 1, TLUBits: 4, PBSMs: 1, LayerMs: 2}}}
				}),
				History: func() []report.HistoryPoint {
					h := make([]report.HistoryPoint, 2000)
					for i := range h {
						h[i] = report.HistoryPoint{Trial: i, Hypervolume: float64(i) / 2000, BestAccuracy: 0.95}
					}
					return h
				}(),
			},
			files: []string{"pareto", "history", "knobs", "layers"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files, err := report.Render(tc.study, report.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if d := os.Getenv("EDGE_OUT"); d != "" {
				os.MkdirAll(filepath.Join(d, tc.study.Name), 0o755)
				for _, f := range files {
					os.WriteFile(filepath.Join(d, tc.study.Name, f.Name), f.Data, 0o644)
				}
			}
			var names []string
			byName := map[string][]byte{}
			for _, f := range files {
				names = append(names, f.Name)
				byName[f.Name] = f.Data
			}
			var want []string
			for _, stem := range tc.files {
				want = append(want, stem+".png", stem+".svg")
			}
			want = append(want, "index.html")
			if fmt.Sprint(names) != fmt.Sprint(want) {
				t.Fatalf("files = %v, want %v", names, want)
			}
			complete := 0
			for _, tr := range tc.study.Trials {
				if tr.State == report.StateComplete {
					complete++
				}
			}
			for name, data := range byName {
				switch {
				case strings.HasSuffix(name, ".png"):
					if _, err := png.Decode(bytes.NewReader(data)); err != nil {
						t.Errorf("%s: %v", name, err)
					}
				default:
					parseXML(t, data)
				}
			}
			if n := countFilledPaths(t, byName["pareto.svg"], report.ColTrial); n != complete+1 {
				t.Errorf("pareto.svg: %d trial markers, want %d + 1", n, complete)
			}
			checkOffline(t, byName["index.html"])
		})
	}
}

// BenchmarkRender renders the 62-trial fixture in both formats (about 10 files).
func BenchmarkRender(b *testing.B) {
	s := loadFixture(b)
	for _, formats := range [][]string{{"svg"}, {"png", "svg"}} {
		b.Run("formats="+strings.Join(formats, "+"), func(b *testing.B) {
			for b.Loop() {
				if _, err := report.Render(s, report.Options{Formats: formats}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
