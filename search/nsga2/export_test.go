package nsga2

// Exported for the tests of package nsga2_test.
var (
	SBX                = sbx
	PolynomialMutation = polynomialMutation
)
