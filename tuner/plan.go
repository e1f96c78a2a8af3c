package tuner

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"

	"github.com/fhetune/fhetune/search"
	"github.com/fhetune/fhetune/tuner/dataset"
	"github.com/fhetune/fhetune/tuner/model"
)

// Plan is a study ready to run: a resolved spec, its search space and sampler, the data
// set loaded and split, and the model file (if the spec names one) loaded and checked
// against the data. NewPlan does all the checking and loading that can fail on bad input
// and touches no database, so a command can refuse bad input before it opens or creates
// one. A Plan is read-only after NewPlan and safe for concurrent use.
type Plan struct {
	spec     Spec
	space    knobSpace
	sampler  search.Sampler
	gridSize int
	data     *dataset.Dataset
	dataHash string
	task     Task           // the splits and seed; Base is set by Run
	file     *model.Network // the model file's network, or nil
}

// NewPlan resolves the spec (filling defaults, checking every value), builds its search
// space and sampler, loads and splits the data set, and loads the model file if the
// spec names one. Errors wrap ErrStudySpec (as a *SpecError) for a bad spec and
// ErrStudyData for data or a model file that cannot be used.
func NewPlan(s Spec) (*Plan, error) {
	r, err := s.Resolve()
	if err != nil {
		return nil, err
	}
	p := &Plan{spec: r}
	if p.space, err = compileSpace(r); err != nil {
		return nil, err
	}
	if p.sampler, p.gridSize, err = newSampler(r, p.space); err != nil {
		return nil, err
	}
	if p.gridSize > 0 && p.spec.Trials > p.gridSize {
		p.spec.Trials = p.gridSize
	}
	var opts []dataset.Option
	if r.DataDir != "" {
		opts = append(opts, dataset.WithDataDir(r.DataDir))
	}
	if r.LabelColumn != "" {
		opts = append(opts, dataset.WithLabelColumn(r.LabelColumn))
	}
	if p.data, err = dataset.Load(r.Dataset, opts...); err != nil {
		return nil, fmt.Errorf("%w: data set %q: %w", ErrStudyData, r.Dataset, err)
	}
	p.dataHash = datasetHash(p.data)
	if p.task, err = SplitTask(p.data, *r.Training.Seed); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStudyData, err)
	}
	p.task.FineTuneEpochs = *r.Training.FineTuneEpochs
	if p.task.FineTuneEpochs == 0 {
		p.task.FineTuneEpochs = -1 // Task: negative means none
	}
	if r.Model.File != "" {
		net, err := LoadNetwork(r.Model.File)
		if err != nil {
			return nil, fmt.Errorf("%w: model file: %w", ErrStudyData, err)
		}
		if err := p.fits(net, "model file "+r.Model.File); err != nil {
			return nil, err
		}
		if r.Model.Standardize {
			if err := Standardize(net, p.task); err != nil {
				return nil, fmt.Errorf("%w: model.standardize: model file %s: %w", ErrStudyData, r.Model.File, err)
			}
		}
		p.file = net
	}
	return p, nil
}

// fits checks that a network takes the data set's samples and classes.
func (p *Plan) fits(net *model.Network, what string) error {
	if net.InSize() != p.data.Features() || net.Classes != p.data.Classes {
		return fmt.Errorf("%w: %s takes %d features and %d classes, data set %q has %d and %d", ErrStudyData, what,
			net.InSize(), net.Classes, p.data.Name, p.data.Features(), p.data.Classes)
	}
	return nil
}

// Spec returns the resolved spec (for grid search, Trials is capped at the grid's size).
func (p *Plan) Spec() Spec { return p.spec }

// Space returns the search space of the knobs that are searched.
func (p *Plan) Space() search.Space { return p.space.space.Clone() }

// Fixed returns the knobs that are not searched and their values (rounding off: 0).
func (p *Plan) Fixed() map[string]float64 {
	m := make(map[string]float64, len(p.space.fixed))
	for k, v := range p.space.fixed {
		m[k] = v
	}
	return m
}

// GridSize returns the number of grid points for grid search (0 otherwise).
func (p *Plan) GridSize() int { return p.gridSize }

// datasetHash fingerprints the data (sizes, features and labels), so that a study can
// tell whether a csv:PATH file changed since it began.
func datasetHash(d *dataset.Dataset) string {
	h := sha256.New()
	r, c := d.X.Dims()
	var buf [8]byte
	put := func(u uint64) {
		binary.LittleEndian.PutUint64(buf[:], u)
		h.Write(buf[:])
	}
	put(uint64(r))
	put(uint64(c))
	put(uint64(d.Classes))
	row := make([]byte, 8*c)
	for i := 0; i < r; i++ {
		for j, v := range d.X.RawRowView(i) {
			binary.LittleEndian.PutUint64(row[8*j:], math.Float64bits(v))
		}
		h.Write(row)
	}
	for _, y := range d.Y {
		put(uint64(y))
	}
	return hex.EncodeToString(h.Sum(nil))
}
