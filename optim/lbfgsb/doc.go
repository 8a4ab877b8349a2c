// Package lbfgsb minimises a smooth function subject to box bounds with the
// limited-memory BFGS-B method of Byrd, Lu, Nocedal and Zhu (1995), as
// revised by Morales and Nocedal (2011).
//
// The solver uses reverse communication: it never calls the objective.
// The caller asks it what to do next and supplies function values and
// gradients when asked, so the objective may live in another language or
// process and may be interrupted at any point:
//
//	s, err := lbfgsb.New(x0, lower, upper, settings)
//	...
//	grad := make([]float64, len(x0))
//	var f float64
//	for task := lbfgsb.Evaluate; !task.Done(); {
//		if task == lbfgsb.Evaluate {
//			f = objective(s.X(), grad)
//		}
//		task = s.Next(f, grad)
//	}
//
// Each iteration computes the generalized Cauchy point along the projected
// steepest-descent path of the limited-memory quadratic model, minimises the
// model over the variables left free there (projecting the result back onto
// the box, or backtracking when the projection is not a descent direction),
// and searches along the resulting direction with the Moré–Thuente line
// search for a step satisfying the strong Wolfe conditions.
//
// An optional symmetric positive definite preconditioner P, diagonal or made
// of 2×2 blocks, becomes the initial inverse Hessian H0 = P/θ of the
// limited-memory matrix (B0 = θ·P⁻¹), with θ = yᵀPy/sᵀy from the latest
// correction pair.
package lbfgsb
