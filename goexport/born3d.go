package main

import (
	"fmt"
	"unsafe"

	"github.com/torchwave/torchwave/kernels/scalar3d"
)

// Born modelling in 3D (ndim = 3): runBornTyped's checks and call on
// scalar3d's BornProblem, with the z members of both field sets.

func runBorn3D[T scalar3d.Float](a bornCall, backward bool) error {
	// The background state is only used by the forward pass or the
	// background adjoint.
	state := !backward || a.adjointBg != 0
	if err := checkBorn3DDims(a, state); err != nil {
		return err
	}
	bg, f, c := scalar3DParts[T](a.bg)
	shots, cells := bg.NShots, bg.Cells()
	n := shots * cells
	models := 1
	if bg.ModelPerShot {
		models = shots
	}
	nsteps := c.NSteps
	p := &scalar3d.BornProblem[T]{
		Problem:                bg,
		DC:                     slice[T](a.dc, models*cells),
		ScatteredReceiverIndex: slice[int64](a.receiverIndexSc, shots*int(a.nReceiversSc)),
		NScatteredReceivers:    int(a.nReceiversSc),
		CouplingInterval:       int(a.couplingInterval),
	}
	pair := func(v [2]unsafe.Pointer) [2][]T { return [2][]T{slice[T](v[0], n), slice[T](v[1], n)} }
	fsc := &scalar3d.Fields[T]{U: pair(a.uSc), PsiZ: pair(a.psizSc), PsiY: pair(a.psiySc), PsiX: pair(a.psixSc),
		ZetaZ: pair(a.zetazSc), ZetaY: pair(a.zetaySc), ZetaX: pair(a.zetaxSc)}
	bc := &scalar3d.BornChunk[T]{
		Chunk:                *c,
		ScatteredSourceAmp:   slice[T](a.sourceAmpSc, nsteps*shots*bg.NSources),
		ScatteredReceiverAmp: slice[T](a.receiverAmpSc, nsteps*shots*int(a.nReceiversSc)),
		ScatteredStore:       slice[T](a.storeSc, int(a.bg.nStore)*n),
		GradDC:               slice[T](a.gradDC, n),
		AdjointBackground:    a.adjointBg != 0,
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if !state {
		f = nil // not read, and its pointers may be null
	}
	if err := p.ValidateChunk(f, fsc, bc, backward); err != nil {
		return err
	}
	if backward {
		scalar3d.BornBackward(p, f, fsc, bc)
	} else {
		scalar3d.BornForward(p, f, fsc, bc)
	}
	return nil
}

// checkBorn3DDims is checkBornDims for a 3D call: the sizes (with nz),
// then every pointer the call needs, the z members of both field sets
// among them; without state, the background's fields and amplitudes may
// be null.
func checkBorn3DDims(a bornCall, state bool) error {
	if err := checkSizes3D(a.bg); err != nil {
		return err
	}
	// checkBornSizes on the grid flattened to nz·ny rows of nx, which
	// checkSizes3D has bounded.
	flat := a
	flat.bg.ny = a.bg.nz * a.bg.ny
	if err := checkBornSizes(flat); err != nil {
		return err
	}
	required := append(scalar3DPointers(a.bg, state), namedPointer{"dc", a.dc})
	required = append(required, fieldPointers("_sc", a.uSc, a.psiySc, a.psixSc, a.zetaySc, a.zetaxSc)...)
	for k := 0; k < 2; k++ {
		required = append(required, namedPointer{fmt.Sprintf("psiz_sc[%d]", k), a.psizSc[k]},
			namedPointer{fmt.Sprintf("zetaz_sc[%d]", k), a.zetazSc[k]})
	}
	return checkPointers(append(required, bornSurveyPointers(a)...))
}
