package pareto

import (
	"fmt"
	"strings"
)

// Direction says whether an objective is to be minimized or maximized.
// The zero value is Minimize.
type Direction int

const (
	// Minimize prefers lower values.
	Minimize Direction = iota
	// Maximize prefers higher values.
	Maximize
)

// String returns "minimize" or "maximize".
func (d Direction) String() string {
	switch d {
	case Minimize:
		return "minimize"
	case Maximize:
		return "maximize"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

// ParseDirection reads "minimize" or "maximize" (case-insensitive, also "min" and "max").
func ParseDirection(s string) (Direction, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "minimize", "min":
		return Minimize, nil
	case "maximize", "max":
		return Maximize, nil
	}
	return 0, fmt.Errorf("%w %q (want minimize or maximize)", ErrUnknownDirection, s)
}

// sign is +1 for Minimize and -1 for Maximize: sign·value is to be minimized.
func (d Direction) sign() float64 {
	if d == Maximize {
		return -1
	}
	return 1
}

// minimized returns copies of the points with maximized objectives negated, so that every
// objective is to be minimized. It panics if a row's length differs from len(dirs).
func minimized(points [][]float64, dirs []Direction) [][]float64 {
	out := make([][]float64, len(points))
	flat := make([]float64, len(points)*len(dirs))
	for i, p := range points {
		checkLen(i, p, dirs)
		row := flat[i*len(dirs) : (i+1)*len(dirs) : (i+1)*len(dirs)]
		for j, d := range dirs {
			row[j] = d.sign() * p[j]
		}
		out[i] = row
	}
	return out
}

func checkLen(i int, p []float64, dirs []Direction) {
	if len(p) != len(dirs) {
		panic(fmt.Sprintf("pareto: point %d has %d objectives, want %d", i, len(p), len(dirs)))
	}
}
