package executor

import (
	"math"
	"testing"

	"github.com/fhetune/fhetune/fhe"
	"github.com/sp301415/tfhe-go/tfhe"
)

// TestNoiseModel measures, on real tfhe-go ciphertexts of one set, the variance of a
// bootstrap's output, of the keyswitch that follows it and of the modulus switch that
// feeds the next blind rotation, and checks each against fhe.TFHEGoNoise. Concrete's
// model is logged beside them: it predicts about half the bootstrap variance and
// k·N/(k·N − n) times the keyswitch variance of tfhe-go. 500 samples estimate a
// variance to ±6% (one standard deviation); the bounds allow four or more.
func TestNoiseModel(t *testing.T) {
	p := fhe.ParamsLiteral{GLWERank: 2, LogPolyDegree: 10, LWEDimension: 760, BRLevel: 2, BRLogBase: 15, KSLevel: 4, KSLogBase: 3}.MustCompile()
	model, err := p.NoiseOf(fhe.DefaultSecurity, fhe.TFHEGoNoise)
	if err != nil {
		t.Fatal(err)
	}
	con, _ := p.Noise(fhe.DefaultSecurity)
	part, err := newPartition(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := part.genKeys(0)(); err != nil {
		t.Fatal(err)
	}
	ev := tfhe.NewEvaluator(part.tp, part.evk)
	small := tfhe.NewEncryptorWithKey(part.small, part.enc.SecretKey)
	// A table with distinct entries, so that every CMux adds noise; input 0 reads 0.
	lut := ev.GenLookUpTableCustomFull(func(u int) uint64 { return uint64(u) << 61 }, 2)
	out := tfhe.NewLWECiphertext(part.tp)
	ks := tfhe.NewLWECiphertextCustom[uint64](p.LWEDimension())
	const samples = 500
	twoN := float64(2 * p.PolyDegree())
	var vBR, vKS, vMS float64
	for range samples {
		ev.BootstrapLUTAssign(part.enc.EncryptLWEPlaintext(tfhe.LWEPlaintext[uint64]{}), lut, out)
		e0 := float64(int64(part.enc.DecryptLWEPhase(out).Value))
		ev.KeySwitchForBootstrapAssign(out, ks)
		phase := small.DecryptLWEPhase(ks).Value
		e1 := float64(int64(phase))
		// The modulus switch as the blind rotation reads it: every coefficient rounded
		// to Z_2N, the phase recomputed there (tfhe-go's phase is b + <a, s>).
		b := int64(ev.ModSwitch(ks.Value[0]))
		for j, s := range part.enc.SecretKey.LWEKey.Value {
			b += int64(ev.ModSwitch(ks.Value[j+1])) * int64(s)
		}
		d := math.Remainder(float64(b)-e1*twoN/math.Exp2(64), twoN) * math.Exp2(64) / twoN
		vBR += e0 * e0 / samples
		vKS += (e1 - e0) * (e1 - e0) / samples
		vMS += d * d / samples
	}
	for _, c := range []struct {
		name                 string
		measured, model, con float64
	}{
		{"bootstrap output", vBR, model.BlindRotation, con.BlindRotation},
		{"keyswitch", vKS, model.KeySwitch, con.KeySwitch},
		{"modulus switch", vMS, model.ModulusSwitch, con.ModulusSwitch},
	} {
		r := c.measured / c.model
		t.Logf("%s: measured/tfhe-go model %.3f, measured/Concrete model %.3f", c.name, r, c.measured/c.con)
		if r < 0.75 || r > 1.33 {
			t.Errorf("%s: measured variance %.4g, tfhe-go model %.4g (ratio %.3f)", c.name, c.measured, c.model, r)
		}
	}
}
