/* torchwave C ABI. Python mirrors these structs with ctypes; bump
 * TW_ABI_VERSION whenever a layout or a signature changes. */
#ifndef TORCHWAVE_H
#define TORCHWAVE_H

#include <stdint.h>

#define TW_ABI_VERSION 8

enum tw_status {
	TW_OK = 0,
	TW_EINVAL = 1,   /* an argument failed validation */
	TW_EPANIC = 2,   /* a Go panic, recovered at the boundary */
	TW_EUNSUPPORTED = 3
};

enum tw_dtype { TW_FLOAT32 = 0, TW_FLOAT64 = 1 };

/* tw_simd's bits: which kernel packages this build runs as archsimd
 * vector code (AVX2 and FMA, checked before every call). */
#define TW_SIMD_SCALAR 1
#define TW_SIMD_MAXWELL 2
int tw_simd(void);

/* The layout of every struct below as the C compiler laid it out, for
 * Python to check its ctypes mirrors against: a JSON document
 *   {"version": TW_ABI_VERSION, "status": {name: value}, "dtype": {...},
 *    "simd": {...}, "structs": {name: {"size": bytes, "fields":
 *    [{"name": ..., "offset": bytes, "size": bytes}, ...]}}}
 * with fields in declaration order (a nested struct is one field; its
 * type is listed on its own). Writes the document, NUL-terminated, into
 * buf when n exceeds its length, and nothing otherwise; returns its
 * length without the NUL, or -1 on an internal error. */
int64_t tw_abi_layout(char *buf, int64_t n);

/* One call of the scalar propagator: a chunk of time steps on the CPU.
 * Every pointer is owned by the caller. Field pairs: [0] current state,
 * [1] the other buffer; they swap every step. */
typedef struct {
	int64_t dtype;
	int64_t n_shots, ny, nx, accuracy;
	int64_t n_sources, n_receivers;
	int64_t step0, n_steps, store_interval;
	int64_t model_per_shot;
	int64_t n_store;     /* number of snapshots the store buffer holds */
	int64_t store_first; /* the snapshot (step / store_interval) store[0] holds */
	double rdy, rdx;
	void *c;
	void *ay, *by, *dby, *ax, *bx, *dbx;
	void *u[2], *psiy[2], *psix[2], *zetay[2], *zetax[2];
	const int64_t *source_index, *receiver_index;
	void *source_amplitudes;   /* [n_steps][n_shots][n_sources] */
	void *receiver_amplitudes; /* [n_steps][n_shots][n_receivers] */
	void *store;               /* [n_store][n_shots][ny][nx] or NULL */
	void *grad_c;              /* [n_shots][ny][nx] or NULL */
	/* The number of spatial dimensions, 1, 2 or 3. Every "[ny][nx]" above
	 * then reads [nz][ny][nx] in 3D and [nx] in 1D. 1D uses only nx, rdx,
	 * the x profiles and the u, psix and zetax pairs (ny = nz = 1; the y and
	 * z pointers are not used and may be NULL); 2D does not use the z
	 * members (nz = 1). */
	int64_t ndim, nz;
	double rdz;
	void *az, *bz, *dbz;
	void *psiz[2], *zetaz[2];
} tw_scalar_args;

/* Boundary saving (storage_strategy="boundary"): the forward pass records
 * u outside the rectangle that the backward pass rebuilds by running the
 * leapfrog step in reverse. Strip k holds step k-1's u there, so strips 0
 * and 1 are the initial state and strip n+2 the result of step n; a chunk
 * from step 0 also records the initial strips. The backward pass takes W
 * from the rebuilt field instead of base.store (which must be NULL). */
typedef struct {
	tw_scalar_args base;
	int64_t n_strips; /* strips the buffer holds: at least step0 + n_steps + 2 */
	void *strips;     /* [n_strips][n_shots][tw_scalar_boundary_cells] */
	/* Backward only. */
	void *source_amplitudes; /* the forward's, [n_steps][n_shots][n_sources] */
	void *u[2];              /* the forward's u being rebuilt: [0] after the chunk, [1] the step before; they swap every step */
	void *w;                 /* scratch, [n_shots][ny][nx]; needed with base.grad_c */
} tw_scalar_boundary_args;

/* The number of cells per shot of one strip for the grid and PML of a
 * (its state, amplitude and store pointers are not used). */
int tw_scalar_boundary_cells(tw_scalar_args *a, int64_t *cells, char *errbuf, int errlen);

/* One call of the Born (linearised) scalar propagator: the background of
 * bg and a scattered wavefield du with
 *   du_next = c W(du) + dc W(u) + 2 du - du_prev + source_amplitudes_sc.
 * bg's receivers record u and its store holds W(u); the scattered
 * sources use bg's source_index. n_store and store_first apply to both
 * stores. Backward: source amplitude buffers receive the source
 * gradients (lambda at the source cells), receiver amplitude buffers give
 * the receivers' gradients, and both field sets hold mu = c*lambda as
 * for tw_scalar_backward. grad_c (bg) gains W(u)*mu + W(du)*mu_sc and
 * needs both stores; grad_dc gains W(u)*mu_sc and needs bg's store; both
 * per shot, to be divided by c and multiplied by store_interval. */
typedef struct {
	tw_scalar_args bg;
	void *dc; /* the perturbation of c, laid out as bg.c */
	void *u_sc[2], *psiy_sc[2], *psix_sc[2], *zetay_sc[2], *zetax_sc[2];
	int64_t n_receivers_sc;
	const int64_t *receiver_index_sc; /* [n_shots][n_receivers_sc] */
	void *source_amplitudes_sc;       /* [n_steps][n_shots][n_sources] */
	void *receiver_amplitudes_sc;     /* [n_steps][n_shots][n_receivers_sc] */
	void *store_sc;                   /* W(du), [n_store][n_shots][ny][nx] or NULL */
	void *grad_dc;                    /* [n_shots][ny][nx] or NULL */
	/* Backward only: nonzero also runs the background adjoint. When zero,
	 * bg's fields, amplitudes and grad_c are not used (may be NULL; grad_c
	 * must be) and a step costs about one of tw_scalar_backward. */
	int64_t adjoint_bg;
	int64_t coupling_interval; /* k > 1: dc couples only on steps n % k == 0, as k*dc
	                            * (the derivative of a gradient sampled every k steps); 0 or 1: every step */
	void *psiz_sc[2], *zetaz_sc[2]; /* 3D only, as bg.psiz and bg.zetaz */
} tw_scalar_born_args;

/* Snapshot compression (kernels/codec): rows of n values <-> rows of
 * ceil(n/64)*4 bytes of float32 scales then ceil(n/64)*64 int8 codes. */
int tw_int8_encode(int64_t dtype, int64_t rows, int64_t n, int64_t nbytes, void *src, void *dst, char *errbuf, int errlen);
int tw_int8_decode(int64_t dtype, int64_t rows, int64_t n, int64_t nbytes, void *src, void *dst, char *errbuf, int errlen);

/* L-BFGS-B by reverse communication. The optimiser never calls the
 * objective: tw_lbfgsb_next returns a task, and on TW_LBFGSB_EVALUATE the
 * caller evaluates f and its gradient at x and passes them to the next
 * call. Solvers are named by handles; every buffer is the caller's and n
 * doubles long unless said otherwise; inputs (x0, bounds, preconditioner,
 * grad) are only read, and the optimiser keeps copies of what it needs.
 * lower/upper may be NULL (no bounds); entries of -inf/+inf leave a side
 * unbounded; x0 is projected onto the box. Zero for history, gtol, ftol or max_line_search picks the default
 * (10, 1e-5, 2.2e-9, 20); zero max_iter/max_evaluations means no limit;
 * a negative ftol disables the f test. Preconditioner kinds: none (p*
 * unused), diagonal (p1: n entries), block (n even; p1, p2, p3 hold the
 * n/2 entries h11, h12, h22 of the 2x2 blocks coupling x[i], x[n/2+i]). */
enum tw_lbfgsb_task {
	TW_LBFGSB_EVALUATE = 0,      /* evaluate at x, then call next with f, grad */
	TW_LBFGSB_NEW_ITERATION = 1, /* x is a new accepted iterate */
	TW_LBFGSB_CONVERGED = 2,
	TW_LBFGSB_STOPPED = 3,       /* an iteration or evaluation limit */
	TW_LBFGSB_FAILED = 4
};

enum tw_lbfgsb_preconditioner {
	TW_LBFGSB_PRECOND_NONE = 0,
	TW_LBFGSB_PRECOND_DIAGONAL = 1,
	TW_LBFGSB_PRECOND_BLOCK = 2
};

int tw_lbfgsb_new(int64_t n, double *x0, double *lower, double *upper,
                  int64_t history, double gtol, double ftol,
                  int64_t max_iter, int64_t max_evaluations, int64_t max_line_search,
                  int64_t preconditioner, double *p1, double *p2, double *p3,
                  int64_t *handle, char *errbuf, int errlen);
/* grad is read only when the previous task was TW_LBFGSB_EVALUATE (the
 * first call supplies the values at the projected x0); x receives the
 * point of the returned task. */
int tw_lbfgsb_next(int64_t handle, double f, double *grad, double *x, int64_t *task,
                   char *errbuf, int errlen);
/* The accepted iterate: x and grad (either may be NULL; x is left alone
 * while an evaluation is pending), info[5] = {f, projected gradient inf-norm,
 * iterations, evaluations, reason}, and the reason in words in msg. */
int tw_lbfgsb_state(int64_t handle, double *x, double *grad, double *info, char *msg, int msglen,
                    char *errbuf, int errlen);
int tw_lbfgsb_free(int64_t handle, char *errbuf, int errlen);

/* One call of the 2D TM Maxwell propagator: a chunk of time steps on the
 * CPU. Every pointer is owned by the caller. The forward pass works in
 * place on element [0] of each pair; the backward pass swaps them every
 * step, as for tw_scalar_args. Stores and gradients may be NULL. */
typedef struct {
	int64_t dtype;
	int64_t n_shots, ny, nx, stencil;
	int64_t n_sources, n_receivers;
	int64_t step0, n_steps, store_interval;
	int64_t model_per_shot;
	int64_t n_store;     /* number of stored snapshots each store buffer holds */
	int64_t store_first; /* the snapshot (step / store_interval) store_*[0] holds */
	double rdy, rdx;
	void *ca, *cb, *cq;
	void *ay, *by, *ayh, *byh, *ax, *bx, *axh, *bxh;
	void *ey[2], *hx, *hz;
	void *m_ey_x[2], *m_ey_z[2], *m_hx_z[2], *m_hz_x[2];
	const int64_t *source_index, *receiver_index;
	void *source_amplitudes;   /* [n_steps][n_shots][n_sources] */
	void *receiver_amplitudes; /* [n_steps][n_shots][n_receivers] */
	void *store_ey, *store_curl, *store_dz, *store_dx; /* [n_store][n_shots][ny][nx] or NULL */
	void *grad_ca, *grad_cb, *grad_cq;                 /* [n_shots][ny][nx] */
} tw_maxwell_args;

/* One call of the variable-density acoustic propagator (velocity and
 * pressure on a staggered grid): a chunk of time steps on the CPU, in 1D,
 * 2D or 3D. Every pointer is owned by the caller; both passes work in
 * place on single buffers. Per-axis arrays are indexed by the 3D axis
 * (0: z, 1: y, 2: x); the entries of an axis the grid lacks (z in 1D and
 * 2D, y in 1D, whose sizes are 1) are not used and may be NULL. Survey
 * arrays are indexed [0] pressure, [1 + axis] the velocity along that
 * axis. Fields are [n_shots][nz][ny][nx]; k and buoyancy [n_shots or 1]
 * [nz][ny][nx] (k_per_shot, b_per_shot); profiles a, b on the cells and
 * ah, bh on the half cells, [n] along their axis. Backward: the fields
 * hold the adjoint state; source amplitude buffers receive the sources'
 * gradients, receiver amplitude buffers give the receivers'; grad_k and
 * grad_b (per shot, unscaled by store_interval, or NULL) gain the model
 * gradients and need store_k and store_b (sum_d D-_d v_d and the
 * pressure gradient G_d of the forward, [n_store][n_shots][nz][ny][nx]). */
typedef struct {
	int64_t dtype, ndim;
	int64_t n_shots, nz, ny, nx, accuracy;
	int64_t step0, n_steps, store_interval;
	int64_t k_per_shot, b_per_shot;
	int64_t n_store;     /* number of snapshots each store buffer holds */
	int64_t store_first; /* the snapshot (step / store_interval) store_*[0] holds */
	double dt;
	double rd[3];        /* 1 / grid spacing */
	void *k, *b[3];      /* bulk modulus, buoyancy */
	void *a[3], *bp[3], *ah[3], *bh[3];
	void *p, *v[3], *phi[3], *psi[3];
	int64_t n_sources[4], n_receivers[4];
	const int64_t *source_index[4], *receiver_index[4]; /* [n_shots][n], -1 ignored */
	void *source_amplitudes[4];   /* [n_steps][n_shots][n_sources[i]] */
	void *receiver_amplitudes[4]; /* [n_steps][n_shots][n_receivers[i]] */
	void *store_k, *store_b[3];   /* or NULL */
	void *grad_k, *grad_b[3];     /* [n_shots][nz][ny][nx] or NULL */
} tw_acoustic_args;

#endif
