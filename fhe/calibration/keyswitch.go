package calibration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"

	"github.com/fhetune/fhetune/fhe"
	"github.com/sp301415/tfhe-go/tfhe"
)

// KeySwitchMeasurement is the measured time of a keyswitch between the keys of two
// parameter sets: from the big key of From (dimension k·N) to the small key of To
// (dimension n), what a circuit pays where a layer's TLUs are in another partition than
// its accumulators. The model's prediction is [Profile.KeySwitchBetweenMS].
type KeySwitchMeasurement struct {
	From    fhe.Params `json:"from"`
	To      fhe.Params `json:"to"`
	Level   int        `json:"level"`
	LogBase int        `json:"log2_base"`
	// MS is the median time of one keyswitch on one core (Clock says which clock).
	MS    float64 `json:"ms"`
	Clock string  `json:"clock"`
	// Checked counts the keyswitched ciphertexts decrypted with To's small key, Wrong
	// those that did not give back their message.
	Checked int `json:"checked"`
	Wrong   int `json:"wrong"`
}

// keySwitchPrecision is the message precision of the checked ciphertexts: small, so
// that only a broken keyswitch (not its noise) makes a wrong result.
const keySwitchPrecision = 2

// MeasureKeySwitchBetween times repeats keyswitches (after one untimed) from from's big
// key to to's small key with the decomposition (level, 2^logBase) on one core, with
// tfhe-go's LWE keyswitch and a key it generates for the pair (packed contiguously, as
// the runner packs its keys), and checks each result by decryption. It takes ctx between calls; seed chooses the messages.
func MeasureKeySwitchBetween(ctx context.Context, from, to fhe.Params, level, logBase, repeats int, seed uint64) (KeySwitchMeasurement, error) {
	return measureBetween(ctx, Target{Params: from}, Target{Params: to}, level, logBase, repeats, seed)
}

// measureBetween is MeasureKeySwitchBetween with the noise of the targets (zero: the
// secure minimum).
func measureBetween(ctx context.Context, ft, tt Target, level, logBase, repeats int, seed uint64) (KeySwitchMeasurement, error) {
	from, to := ft.Params, tt.Params
	if repeats < 1 {
		return KeySwitchMeasurement{}, fmt.Errorf("%w: %d repeats", ErrRefused, repeats)
	}
	if level < 1 || logBase < 1 || level*logBase > 64 {
		return KeySwitchMeasurement{}, fmt.Errorf("%w: keyswitch decomposition %d×2^%d", ErrRefused, level, logBase)
	}
	pf, err := tfheParams(ft, tfhe.OrderKeySwitchBlindRotate)
	if err != nil {
		return KeySwitchMeasurement{}, err
	}
	pt, err := tfheParams(tt, tfhe.OrderBlindRotateKeySwitch)
	if err != nil {
		return KeySwitchMeasurement{}, err
	}
	m := KeySwitchMeasurement{From: from, To: to, Level: level, LogBase: logBase, Clock: clockName()}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var ksk tfhe.LWEKeySwitchKey[uint64]
	var encFrom, encTo *tfhe.Encryptor[uint64]
	var ev *tfhe.Evaluator[uint64]
	if err := guard(func() {
		encFrom = tfhe.NewEncryptor(pf)
		encTo = tfhe.NewEncryptor(pt)
		gadget := tfhe.GadgetParametersLiteral[uint64]{Base: 1 << logBase, Level: level}.Compile()
		ksk = encTo.GenLWEKeySwitchKey(encFrom.SecretKey.LWELargeKey, gadget)
		PackKeySwitchKey(ksk)
		ev = tfhe.NewEvaluator(pt, tfhe.EvaluationKey[uint64]{})
	}); err != nil {
		return KeySwitchMeasurement{}, fmt.Errorf("%w: keyswitch %v → %v: %w", ErrRefused, from, to, err)
	}
	rng := rand.New(rand.NewPCG(seed, 0x6b73))
	out := tfhe.NewLWECiphertextCustom[uint64](to.LWEDimension())
	var times []float64
	for i := range repeats + 1 {
		if err := ctx.Err(); err != nil {
			return KeySwitchMeasurement{}, err
		}
		msg := rng.IntN(1 << keySwitchPrecision)
		in := encFrom.EncryptLWE(msg)
		t0 := now()
		ev.KeySwitchLWEAssign(in, ksk, out)
		t1 := now()
		if i > 0 {
			times = append(times, ms(busy(t0, t1)))
		}
		m.Checked++
		if encTo.DecryptLWE(out) != msg {
			m.Wrong++
		}
	}
	m.MS = Median(times)
	return m, nil
}

// tfheParams compiles a set for the keyswitch measurement: keyswitch-first order on
// the source side (its default key is the big one) and bootstrap-first on the
// destination (its default key is the small one), both with the same message encoding.
func tfheParams(t Target, order tfhe.BootstrapOrder) (tfhe.Parameters[uint64], error) {
	t.Precision, t.Log2Norm2 = keySwitchPrecision, 0
	lit, err := TFHEParameters(t)
	if err != nil {
		return tfhe.Parameters[uint64]{}, err
	}
	lit.BootstrapOrder = order
	return compile(t, lit)
}

// guard runs f and turns a panic inside tfhe-go into an error.
func guard(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	f()
	return nil
}

// BetweenModel prices a keyswitch between the keys of two partitions from measured ones:
// NSPerMAC nanoseconds per multiply-add, k·N of the source · level · (n + 1) of the
// destination, the median over the measurements. tfhe-go's keyswitch between keys and
// its atomic-pattern keyswitch run the same kernel, but measured side by side the
// former costs less per multiply-add than the atomic-pattern terms predict, so it gets
// a model of its own.
type BetweenModel struct {
	NSPerMAC     float64                `json:"ns_per_mac"`
	Measurements []KeySwitchMeasurement `json:"measurements"`
}

// betweenMACs is the multiply-add count of a keyswitch from's big key → to's small key.
func betweenMACs(from, to fhe.Params, level int) float64 {
	return float64(from.GLWEDimension()) * float64(level) * float64(to.LWEDimension()+1)
}

// FitBetween returns the model of measured keyswitches between keys; none is an error.
func FitBetween(ms []KeySwitchMeasurement) (BetweenModel, error) {
	var per []float64
	for _, m := range ms {
		if !(m.MS > 0) {
			return BetweenModel{}, fmt.Errorf("%w: keyswitch %v → %v measured %g ms", ErrFit, m.From, m.To, m.MS)
		}
		per = append(per, m.MS*1e6/betweenMACs(m.From, m.To, m.Level))
	}
	if len(per) == 0 {
		return BetweenModel{}, fmt.Errorf("%w: no keyswitch between keys measured", ErrFit)
	}
	return BetweenModel{NSPerMAC: Median(per), Measurements: ms}, nil
}

// betweenKeyBytes bounds the keyswitching key of a measured keyswitch between keys.
const betweenKeyBytes = 64 << 20

// betweenPairs returns up to most pairs of targets to measure keyswitches between: each
// set with the next one of another (k·N, n), so that the pairs cross precisions as a
// circuit's partitions do, skipping pairs whose key would exceed betweenKeyBytes.
func betweenPairs(targets []Target, most int) [][2]Target {
	var out [][2]Target
	for i := 0; i+1 < len(targets) && len(out) < most; i++ {
		a, b := targets[i].Params, targets[i+1].Params
		if a.GLWEDimension() == b.GLWEDimension() && a.LWEDimension() == b.LWEDimension() {
			continue
		}
		if 8*betweenMACs(a, b, b.KSLevel()) > betweenKeyBytes {
			continue
		}
		out = append(out, [2]Target{targets[i], targets[i+1]})
	}
	return out
}
