package random

// Errors: random defines no sentinel errors of its own. Sample fails only on invalid
// arguments, returning the search package's error (search.ErrNoParams,
// *search.ParamError, search.ErrNoObjectives, …) wrapped as
// "random: sample trial N: …"; check it with errors.Is or errors.As.
