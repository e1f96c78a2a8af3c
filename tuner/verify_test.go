package tuner_test

import (
	"context"
	"errors"
	"testing"

	"github.com/fhetune/fhetune/tuner"
)

func TestVerifyDigits(t *testing.T) {
	_, task := digitsTask(t)
	env := testEnv(t)
	// A pruned MLP (the default 64-64 with 70% of hidden neurons removed), 3-bit weights
	// and activations, exact rounding to 4 bits: a few dozen TLUs and their extractions.
	k := tuner.Knobs{NWBits: 3, NABits: 3, NInputBits: 4, Pruning: 0.7, RoundingThresholdBits: 4, PError: 1e-9, Cores: 2}
	res, err := tuner.Verify(context.Background(), env, task, k, tuner.VerifyOptions{Samples: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Samples != 2 || res.Partial || res.Agreement != 1 || res.TLUErrors != 0 || len(res.Layers) != 3 {
		t.Errorf("result %+v", res)
	}
	if len(res.SetSpeeds) == 0 || !(res.SetSpeeds[0].MeasuredMS > 0) || !(res.SetSpeeds[0].PredictedMS > 0) ||
		!(res.LatencyMSAtSetSpeed > 0) || res.LatencyErrorAtSetSpeed != (res.LatencyMSAtSetSpeed-res.LatencyMSMeasured)/res.LatencyMSMeasured {
		t.Errorf("set speeds %+v, latency at set speed %g (error %g)", res.SetSpeeds, res.LatencyMSAtSetSpeed, res.LatencyErrorAtSetSpeed)
	}
	if !(res.LatencyMSMeasured > 0) || !(res.LatencyMSPredicted > 0) || !(res.KeyMB > 0) || !(res.KeygenMS > 0) ||
		res.Bootstraps <= res.Layers[0].Bootstraps || !(res.ExpectedTLUErrors < 1e-3) {
		t.Errorf("figures %+v", res)
	}
	// Ctrl-C after the first sample: what was measured, marked partial.
	ctx, cancel := context.WithCancel(context.Background())
	part, err := tuner.Verify(ctx, env, task, k, tuner.VerifyOptions{Samples: 3, Progress: func(done, _ int) {
		if done == 1 {
			cancel()
		}
	}})
	if err != nil || !part.Partial || part.Samples != 1 {
		t.Errorf("cancelled run: %+v, %v", part, err)
	}
	if _, err := tuner.Verify(context.Background(), env, task, k, tuner.VerifyOptions{Samples: 0}); !errors.Is(err, tuner.ErrTask) {
		t.Errorf("0 samples: %v", err)
	}
}
