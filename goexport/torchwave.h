/* torchwave C ABI. Python mirrors these structs with ctypes; bump
 * TW_ABI_VERSION whenever a layout or a signature changes. */
#ifndef TORCHWAVE_H
#define TORCHWAVE_H

#include <stdint.h>

#define TW_ABI_VERSION 2

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
} tw_scalar_args;

/* Snapshot compression (kernels/codec): rows of n values <-> rows of
 * ceil(n/64)*4 bytes of float32 scales then ceil(n/64)*64 int8 codes. */
int tw_int8_encode(int64_t dtype, int64_t rows, int64_t n, int64_t nbytes, void *src, void *dst, char *errbuf, int errlen);
int tw_int8_decode(int64_t dtype, int64_t rows, int64_t n, int64_t nbytes, void *src, void *dst, char *errbuf, int errlen);

#endif
