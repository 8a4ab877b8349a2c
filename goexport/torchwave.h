/* torchwave C ABI. Python mirrors these structs with ctypes; bump
 * TW_ABI_VERSION whenever a layout or a signature changes. */
#ifndef TORCHWAVE_H
#define TORCHWAVE_H

#include <stdint.h>

#define TW_ABI_VERSION 1

enum tw_status {
	TW_OK = 0,
	TW_EINVAL = 1,   /* an argument failed validation */
	TW_EPANIC = 2,   /* a Go panic, recovered at the boundary */
	TW_EUNSUPPORTED = 3
};

enum tw_dtype { TW_FLOAT32 = 0, TW_FLOAT64 = 1 };

/* One call of the scalar propagator: a chunk of time steps on the CPU.
 * Every pointer is owned by the caller. Field pairs: [0] current state,
 * [1] the other buffer; they swap every step. */
typedef struct {
	int64_t dtype;
	int64_t n_shots, ny, nx, accuracy;
	int64_t n_sources, n_receivers;
	int64_t step0, n_steps, store_interval;
	int64_t model_per_shot;
	int64_t n_store; /* number of stored snapshots the store buffer holds */
	double rdy, rdx;
	void *c;
	void *ay, *by, *dby, *ax, *bx, *dbx;
	void *u[2], *psiy[2], *psix[2], *zetay[2], *zetax[2];
	const int64_t *source_index, *receiver_index;
	void *source_amplitudes;   /* [n_steps][n_shots][n_sources] */
	void *receiver_amplitudes; /* [n_steps][n_shots][n_receivers] */
	void *store;               /* [n_store][n_shots][ny][nx] or NULL */
	void *grad_c;              /* [n_shots][ny][nx] or NULL */
} tw_scalar_args;

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
	int64_t n_store; /* number of stored snapshots each store buffer holds */
	double rdy, rdx;
	void *ca, *cb, *cq;
	void *ay, *by, *ayh, *byh, *ax, *bx, *axh, *bxh;
	void *ey[2], *hx, *hz;
	void *m_ey_x[2], *m_ey_z[2], *m_hx_z[2], *m_hz_x[2];
	const int64_t *source_index, *receiver_index;
	void *source_amplitudes;   /* [n_steps][n_shots][n_sources] */
	void *receiver_amplitudes; /* [n_steps][n_shots][n_receivers] */
	void *store_ey, *store_curl, *store_dz, *store_dx; /* [n_store][n_shots][ny][nx] */
	void *grad_ca, *grad_cb, *grad_cq;                 /* [n_shots][ny][nx] */
} tw_maxwell_args;

#endif
