package random_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/fhetune/fhetune/search"
	"github.com/fhetune/fhetune/search/random"
	"github.com/fhetune/fhetune/search/searchtest"
)

func TestSamplesStayInSpaceAndAreDeterministic(t *testing.T) {
	p := searchtest.Mixed()
	s, err := random.New(random.WithSeed(3))
	if err != nil {
		t.Fatal(err)
	}
	h1, err := searchtest.Run(s, p, 300)
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := random.New(random.WithSeed(3))
	h2, err := searchtest.Run(s2, p, 300)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(h1, h2) {
		t.Error("same seed gave different trials")
	}
	// Trial n does not depend on the history nor on the order of requests.
	got, _ := s.Sample(p.Space, p.Dirs, nil, 123)
	if !reflect.DeepEqual(got, h1[123].Params) {
		t.Errorf("trial 123 alone = %v, in a run = %v", got, h1[123].Params)
	}
	s3, _ := random.New(random.WithSeed(4))
	other, _ := s3.Sample(p.Space, p.Dirs, nil, 123)
	if reflect.DeepEqual(other, got) {
		t.Error("seeds 3 and 4 gave the same trial")
	}
	// Every choice and every integer shows up.
	seen := map[float64]bool{}
	for _, tr := range h1 {
		seen[tr.Params["n"]] = true
	}
	if len(seen) != 11 {
		t.Errorf("%d of 11 integer values drawn in 300 trials", len(seen))
	}
}

func TestBadArguments(t *testing.T) {
	s, _ := random.New()
	space := search.Space{Params: []search.Param{{Name: "x", Kind: search.Float, Low: 1, High: 0}}}
	_, err := s.Sample(space, []search.Direction{search.Minimize}, nil, 0)
	var pe *search.ParamError
	if !errors.Is(err, search.ErrLowAboveHigh) || !errors.As(err, &pe) || pe.Name != "x" {
		t.Errorf("low above high: %v", err)
	}
	_, err = s.Sample(searchtest.Mixed().Space, nil, nil, 0)
	if !errors.Is(err, search.ErrNoObjectives) {
		t.Errorf("no objectives: %v", err)
	}
}
