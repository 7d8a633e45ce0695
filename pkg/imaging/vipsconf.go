package imaging

// #cgo pkg-config: vips
// #include <vips/vips.h>
import "C"

// configureVips sets what govips' Startup may leave at its defaults
// (a govips call made before New starts libvips with them): no operation
// cache, since renditions never repeat an operation and a cache only
// holds memory; and no loaders its authors do not consider safe for
// hostile input (ImageMagick, PDF, OpenSlide, …), on top of the format
// allow-list in Process.
func configureVips() {
	C.vips_cache_set_max(0)
	C.vips_cache_set_max_mem(0)
	C.vips_cache_set_max_files(0)
	C.vips_block_untrusted_set(C.gboolean(1))
}
