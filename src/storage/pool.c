/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A few worker threads, shared by the file images of the process, for
 * what would hold a queue's thread too long: large buffered transfers,
 * split into parts that run in parallel (a 1 MiB read from the page cache
 * is a copy that two cores do in half the time), and DISCARD /
 * WRITE_ZEROES, whose fallbacks may write a whole range out. One pool,
 * not one per image: a SCSI target with 256 LUNs needs no more threads
 * than a disk.
 *
 * The threads start with the first image, before a daemon drops
 * privileges or enters its sandbox, with process signals blocked; they
 * end with the last. A part finishes on its worker; the last part of a
 * request posts the request to its queue, whose thread delivers it
 * (stg_post).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "compat/uio.h"
#include "core/thread.h"
#include "storage/storage_internal.h"

#define POOL_MAX 16u

struct stg_pool {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	struct stg_part *head, *tail;
	bool stop;
	unsigned n;       /* threads */
	unsigned split;   /* parts per large transfer */
	unsigned users;   /* images (the_pool_lock) */
	pthread_t th[POOL_MAX];
};

static pthread_mutex_t the_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct stg_pool *the_pool;

/* Test hook (storage_internal.h). */
atomic_bool stg_pool_test_hold;
atomic_uint stg_pool_test_held;
static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cv = PTHREAD_COND_INITIALIZER;

void stg_pool_test_release(void)
{
	pthread_mutex_lock(&hold_lock);
	atomic_store(&stg_pool_test_hold, false);
	pthread_cond_broadcast(&hold_cv);
	pthread_mutex_unlock(&hold_lock);
}

static void test_hold(void)
{
	if (!atomic_load_explicit(&stg_pool_test_hold, memory_order_relaxed))
		return;
	pthread_mutex_lock(&hold_lock);
	atomic_fetch_add(&stg_pool_test_held, 1);
	while (atomic_load(&stg_pool_test_hold))
		pthread_cond_wait(&hold_cv, &hold_lock);
	atomic_fetch_sub(&stg_pool_test_held, 1);
	pthread_mutex_unlock(&hold_lock);
}

static void fail_part(struct stg_req *r, int err)
{
	int zero = 0;

	atomic_compare_exchange_strong(&r->perr, &zero, err);
}

static void part_done(struct stg_req *r)
{
	if (atomic_fetch_sub_explicit(&r->parts, 1, memory_order_acq_rel) == 1)
		stg_post(r->q, r);
}

/* @n bytes of part @p moved. */
static void part_advance(const struct stg_req *r, struct stg_part *p,
			 uint64_t n)
{
	p->off += n;
	p->len -= n;
	while (n) {
		size_t l = r->cur[p->idx].iov_len - p->skip;

		if (n < l) {
			p->skip += (size_t)n;
			return;
		}
		n -= l;
		p->idx++;
		p->skip = 0;
	}
}

/*
 * A transfer part: iovecs built from r->cur[idx] + skip, a batch at a time
 * (a part may span more of them than fit on a stack). 0: moved; -EAGAIN:
 * RWF_NOWAIT in @rwf stopped it, and @p is what is left; else it failed
 * (recorded in the request).
 */
static int run_xfer(struct stg_image *img, struct stg_part *p, int rwf)
{
	struct stg_req *r = p->r;
	bool wr = r->op != STG_READ;

	while (p->len) {
		struct iovec v[64];
		struct stg_io io = { .iov = v, .off = p->off };
		unsigned idx = p->idx;
		size_t skip = p->skip;
		uint64_t batch;
		int n = 0, ret;

		while (n < 64 && p->len > io.left && idx < (unsigned)r->ncur) {
			size_t l = r->cur[idx].iov_len - skip;

			if (l > p->len - io.left)
				l = (size_t)(p->len - io.left);
			v[n].iov_base = (uint8_t *)r->cur[idx].iov_base + skip;
			v[n].iov_len = l;
			io.left += l;
			n++;
			skip += l;
			if (skip == r->cur[idx].iov_len) {
				idx++;
				skip = 0;
			}
		}
		if (!n) {
			fail_part(r, -EIO);
			return -EIO;
		}
		io.cnt = n;
		batch = io.left;
		ret = stg_file_rw(img, wr, r->flags & STG_FUA, rwf, &io);
		part_advance(r, p, batch - io.left);
		if ((rwf & RWF_NOWAIT) && (ret == -EAGAIN || ret == -EOPNOTSUPP)) {
			if (ret == -EOPNOTSUPP)
				atomic_store(&img->rd_no_nowait, true);
			return -EAGAIN;
		}
		if (ret < 0) {
			fail_part(r, ret);
			return ret;
		}
	}
	return 0;
}

static void run_op(struct stg_image *img, struct stg_part *p)
{
	struct stg_req *r = p->r;
	int ret;

	if (r->op == STG_DISCARD) {
		ret = stg_file_discard(img, p->off, p->len);
	} else {
		ret = stg_file_write_zeroes(img, p->off, p->len,
					    r->flags & STG_UNMAP);
		/* Zeroes are a write: durable before done() with FUA. */
		if (!ret && (r->flags & STG_FUA))
			ret = stg_file_flush(img);
	}
	if (ret < 0)
		fail_part(r, ret);
}

static void *worker(void *arg)
{
	struct stg_pool *pool = arg;


	pthread_mutex_lock(&pool->lock);
	for (;;) {
		struct stg_part *p;
		struct stg_req *r;

		while (!pool->head && !pool->stop)
			pthread_cond_wait(&pool->cv, &pool->lock);
		if (!pool->head)
			break;
		p = pool->head;
		pool->head = p->next;
		if (!pool->head)
			pool->tail = NULL;
		pthread_mutex_unlock(&pool->lock);
		r = p->r;
		test_hold();
		if (atomic_load_explicit(&r->cancel, memory_order_relaxed))
			fail_part(r, -ECANCELED);
		else if (r->op == STG_DISCARD || r->op == STG_WRITE_ZEROES)
			run_op(r->img, p);
		else
			run_xfer(r->img, p, 0);
		part_done(r);
		pthread_mutex_lock(&pool->lock);
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

static void pool_free(struct stg_pool *pool)
{
	pthread_mutex_lock(&pool->lock);
	pool->stop = true;
	pthread_cond_broadcast(&pool->cv);
	pthread_mutex_unlock(&pool->lock);
	for (unsigned i = 0; i < pool->n; i++)
		pthread_join(pool->th[i], NULL);
	pthread_cond_destroy(&pool->cv);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}

static struct stg_pool *pool_new(void)
{
	struct stg_pool *pool = calloc(1, sizeof(*pool));
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned want;
	int ret = 0;

	if (!pool)
		return NULL;
	if (ncpu < 1)
		ncpu = 1;
	/* A transfer is split over the cores; twice as many threads let
	 * the parts of several transfers (a guest's queue depth, several
	 * devices) and ones that block on a disk overlap. */
	pool->split = ncpu < 2 ? 2 : ncpu > (long)STG_MAX_PARTS
					 ? STG_MAX_PARTS
					 : (unsigned)ncpu;
	want = 2 * (unsigned)(ncpu > (long)POOL_MAX ? POOL_MAX : ncpu);
	if (want < 4)
		want = 4;
	if (want > POOL_MAX)
		want = POOL_MAX;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->cv, NULL);
	/* Signals go to the daemon's main thread, never to a worker; a
	 * fault (SIGBUS on a shrunk peer mapping) stays deliverable
	 * (core/thread.h). */
	for (; pool->n < want; pool->n++) {
		ret = vcore_thread_create(&pool->th[pool->n], worker, pool);
		if (ret)
			break;
	}
	if (!pool->n) {
		pool_free(pool);
		errno = -ret;
		return NULL;
	}
	return pool;
}

int stg_pool_start(struct stg_image *img)
{
	int ret = 0;

	pthread_mutex_lock(&the_pool_lock);
	if (!the_pool)
		the_pool = pool_new();
	if (the_pool) {
		the_pool->users++;
		img->pool = the_pool;
	} else {
		ret = -errno;
	}
	pthread_mutex_unlock(&the_pool_lock);
	return ret;
}

void stg_pool_stop(struct stg_image *img)
{
	struct stg_pool *pool = img->pool;

	if (!pool)
		return;
	img->pool = NULL;
	pthread_mutex_lock(&the_pool_lock);
	if (--pool->users) {
		pool = NULL;
	} else {
		the_pool = NULL;
	}
	pthread_mutex_unlock(&the_pool_lock);
	/* The last image: nothing of any image can be queued any more
	 * (each drained its queues before closing). */
	if (pool)
		pool_free(pool);
}

bool stg_pool_wanted(const struct stg_queue *q, const struct stg_req *r)
{
	const struct stg_image *img = r->img;

	/* O_DIRECT through io_uring is already parallel in the kernel; and
	 * a part that starts inside a segment keeps the O_DIRECT memory
	 * alignment only when that is no stricter than the length's. */
	return img->pool && r->cleft >= STG_SPLIT_MIN &&
	       !(img->direct && img->engine == STG_ENGINE_URING && q->uring) &&
	       !(img->direct && img->mem_align > img->len_align) &&
	       !stg_uring_test_ring_only;
}

static void enqueue(struct stg_pool *pool, struct stg_part *first,
		    struct stg_part *last, unsigned n)
{
	pthread_mutex_lock(&pool->lock);
	if (pool->tail)
		pool->tail->next = first;
	else
		pool->head = first;
	pool->tail = last;
	if (n > 1)
		pthread_cond_broadcast(&pool->cv);
	else
		pthread_cond_signal(&pool->cv);
	pthread_mutex_unlock(&pool->lock);
}

/*
 * Whether the queue's thread may run a part itself: reads of a file in
 * memory (a copy that never waits), or reads the file system can try
 * without blocking (RWF_NOWAIT).
 */
static bool inline_part(const struct stg_req *r)
{
	const struct stg_image *img = r->img;

	if (r->op != STG_READ || img->direct)
		return false;
	return img->in_memory ||
	       !atomic_load_explicit(&img->rd_no_nowait, memory_order_relaxed);
}

void stg_pool_xfer(struct stg_queue *q, struct stg_req *r)
{
	struct stg_pool *pool = r->img->pool;
	uint64_t total = r->cleft, each, done = 0;
	unsigned k = pool->split, idx = 0;
	size_t skip = 0;

	if (k > STG_MAX_PARTS)
		k = STG_MAX_PARTS;
	if (k > total / STG_PART_MIN)
		k = (unsigned)(total / STG_PART_MIN);
	if (!k)
		k = 1;
	/* Parts end on 4 KiB boundaries of the transfer, which keeps every
	 * O_DIRECT rule the whole transfer kept. */
	each = (total / k + 4095) & ~(uint64_t)4095;
	for (unsigned i = 0; i < k; i++) {
		struct stg_part *p = &r->part[i];
		uint64_t len = i == k - 1 ? total - done : each;

		if (len > total - done)
			len = total - done;
		p->r = r;
		p->off = r->coff + done;
		p->len = len;
		p->idx = idx;
		p->skip = skip;
		p->next = i + 1 < k ? &r->part[i + 1] : NULL;
		/* Where the next part starts in the iovecs. */
		while (len && idx < (unsigned)r->ncur) {
			size_t l = r->cur[idx].iov_len - skip;

			if (l > len) {
				skip += (size_t)len;
				len = 0;
			} else {
				len -= l;
				idx++;
				skip = 0;
			}
		}
		done += p->len;
		if (done == total) {
			k = i + 1;
			p->next = NULL;
		}
	}
	r->state = STG_S_REMOTE;
	atomic_store_explicit(&r->parts, k, memory_order_relaxed);
	if (!inline_part(r)) {
		enqueue(pool, &r->part[0], &r->part[k - 1], k);
		return;
	}
	/* The queue's thread would only wait: it takes the first part
	 * itself, if that cannot block, and ends the request at once when
	 * its part is the last to finish (no trip through the eventfd). */
	if (k > 1)
		enqueue(pool, &r->part[1], &r->part[k - 1], k - 1);
	if (run_xfer(r->img, &r->part[0],
		     r->img->in_memory ? 0 : RWF_NOWAIT) == -EAGAIN) {
		/* It would wait for the disk: a worker takes the rest. */
		r->part[0].next = NULL;
		enqueue(pool, &r->part[0], &r->part[0], 1);
		return;
	}
	if (atomic_fetch_sub_explicit(&r->parts, 1, memory_order_acq_rel) == 1)
		stg_remote_done(q, r);
}

void stg_pool_op(struct stg_queue *q, struct stg_req *r)
{
	struct stg_part *p = &r->part[0];

	p->r = r;
	p->off = r->off;
	p->len = r->len;
	p->next = NULL;
	r->state = STG_S_REMOTE;
	atomic_store_explicit(&r->parts, 1, memory_order_relaxed);
	enqueue(r->img->pool, p, p, 1);
}
