package tuner

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/fhetune/fhetune/fhe/calibration"
	"github.com/fhetune/fhetune/studies"
	"github.com/fhetune/fhetune/tuner/model"
)

// Names of what a study keeps besides its trials.
const (
	// ArtifactBaseModel is the study artifact holding the base model in the model file
	// format: trained (or read from the model file) when the study begins, reused by
	// every later run, so resuming never trains again.
	ArtifactBaseModel = "base_model"
	// ArtifactProfile is the study artifact holding the calibration profile (JSON) that
	// times every trial of the study, so that latencies stay comparable even when a newer
	// profile is measured later.
	ArtifactProfile = "calibration_profile"
	// AttrFloatAccuracy is the study attribute holding the base model's test accuracy.
	AttrFloatAccuracy = "float_accuracy"
	// AttrCalibration names the calibration profile's source (a database id or
	// "default").
	AttrCalibration = "calibration"
	// AttrDataset is the study attribute holding the SHA-256 of the data set.
	AttrDataset = "dataset_sha256"
	// AttrTrials is the study attribute holding the number of trials last asked for,
	// which `fhetune study resume` continues to.
	AttrTrials = "trials"
)

// baseModel returns the study's base model: its stored artifact, or else the spec's
// model file or a newly trained network, which it stores. Training is deterministic
// for the spec, so two processes that both find no artifact store the same bytes.
func (p *Plan) baseModel(ctx context.Context, db *studies.Store, st studies.Study) (*model.Network, error) {
	b, err := db.Artifact(ctx, st.ID, ArtifactBaseModel)
	switch {
	case err == nil:
		net := new(model.Network)
		if err := net.UnmarshalBinary(b); err != nil {
			return nil, fmt.Errorf("tuner: study %q: stored base model: %w", st.Name, err)
		}
		if err := p.fits(net, "the stored base model"); err != nil {
			return nil, err
		}
		return net, nil
	case !errors.Is(err, studies.ErrNoArtifact):
		return nil, fmt.Errorf("tuner: study %q: %w", st.Name, err)
	}
	net := p.file
	if net == nil {
		t := p.spec.Training
		cfg := model.TrainConfig{Epochs: t.Epochs, BatchSize: t.BatchSize, LearningRate: t.LearningRate,
			Patience: *t.Patience, Seed: *t.Seed}
		if cfg.Patience == 0 {
			cfg.Patience = -1 // the spec's 0 means never stop early
		}
		if net, err = TrainBase(ctx, p.spec.Model.Spec, p.data, p.task, cfg); err != nil {
			return nil, err
		}
		net.Meta = map[string]string{"study": st.Name, "seed": strconv.FormatUint(*t.Seed, 10)}
	}
	if b, err = net.MarshalBinary(); err != nil {
		return nil, fmt.Errorf("tuner: encode base model: %w", err)
	}
	if err := db.PutArtifact(ctx, st.ID, ArtifactBaseModel, b); err != nil {
		return nil, fmt.Errorf("tuner: store base model: %w", err)
	}
	return net, nil
}

// profile returns the study's calibration profile: its stored artifact, or else the
// newest profile of the database (or the built-in default), which it stores.
func profile(ctx context.Context, db *studies.Store, st studies.Study) (calibration.Profile, string, error) {
	b, err := db.Artifact(ctx, st.ID, ArtifactProfile)
	switch {
	case err == nil:
		pr, err := calibration.Decode(b)
		if err != nil {
			return calibration.Profile{}, "", fmt.Errorf("tuner: study %q: stored calibration profile: %w", st.Name, err)
		}
		src := st.UserAttrs[AttrCalibration]
		if src == "" {
			src = "study"
		}
		return pr, src, nil
	case !errors.Is(err, studies.ErrNoArtifact):
		return calibration.Profile{}, "", fmt.Errorf("tuner: study %q: %w", st.Name, err)
	}
	pr, src, err := calibration.Latest(ctx, db)
	if err != nil {
		return calibration.Profile{}, "", fmt.Errorf("tuner: calibration profile: %w", err)
	}
	payload, err := pr.Encode()
	if err != nil {
		return calibration.Profile{}, "", err
	}
	if err := db.PutArtifact(ctx, st.ID, ArtifactProfile, payload); err != nil {
		return calibration.Profile{}, "", fmt.Errorf("tuner: store calibration profile: %w", err)
	}
	if err := db.SetStudyAttr(ctx, st.ID, AttrCalibration, src); err != nil {
		return calibration.Profile{}, "", fmt.Errorf("tuner: %w", err)
	}
	return pr, src, nil
}

// studyArtifacts keeps a study's trained networks as its artifacts ([Artifacts]).
type studyArtifacts struct {
	db *studies.Store
	id int64
}

func (a studyArtifacts) Load(ctx context.Context, name string) ([]byte, bool, error) {
	b, err := a.db.Artifact(ctx, a.id, name)
	if errors.Is(err, studies.ErrNoArtifact) {
		return nil, false, nil
	}
	return b, err == nil, err
}

func (a studyArtifacts) Store(ctx context.Context, name string, data []byte) error {
	return a.db.PutArtifact(ctx, a.id, name, data)
}
