package auth

import "sync"

const defaultCacheSize = 512

// fileKey identifies a version of a file: a rewrite changes size, mtime or
// ctime (ctime cannot be set from user space, and with multigrain
// timestamps a change after our fstat gets a fresh one).
type fileKey struct {
	dev, ino, size uint64
	mtimeSec       int64
	mtimeNsec      int64
	ctimeSec       int64
	ctimeNsec      int64
}

// hashCache maps file versions to their hashes. It is bounded: when full,
// the oldest entry is dropped (FIFO; a repeat caller re-hashes at worst once
// per cycle).
type hashCache struct {
	mu    sync.Mutex
	max   int
	m     map[fileKey]string
	order []fileKey
	next  int
	// hashes counts files actually hashed (cache misses), for tests.
	hashes int
}

func newHashCache(max int) *hashCache {
	return &hashCache{max: max, m: make(map[fileKey]string, max)}
}

func (c *hashCache) get(k fileKey) (string, bool) {
	c.mu.Lock()
	h, ok := c.m[k]
	c.mu.Unlock()
	return h, ok
}

func (c *hashCache) put(k fileKey, h string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; ok {
		return
	}
	if len(c.order) < c.max {
		c.order = append(c.order, k)
	} else {
		delete(c.m, c.order[c.next])
		c.order[c.next] = k
		c.next = (c.next + 1) % c.max
	}
	c.m[k] = h
}

func (c *hashCache) countHash() {
	c.mu.Lock()
	c.hashes++
	c.mu.Unlock()
}
