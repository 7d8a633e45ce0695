package imaging

// #cgo pkg-config: vips
// #include <stdlib.h>
// #include <malloc.h>
// #include <vips/vips.h>
//
// // pl_focal finds libvips' centre of attention (the region a smart crop
// // keeps) on a 256-pixel thumbnail, orientation applied.
// static int pl_focal(const void *buf, size_t len, int *x, int *y, int *w, int *h) {
//   VipsImage *thumb = NULL, *out = NULL;
//   if (vips_thumbnail_buffer((void *) buf, len, &thumb, 256, "height", 256,
//                             "size", VIPS_SIZE_DOWN, "fail_on", VIPS_FAIL_ON_ERROR, NULL)) {
//     vips_error_clear();
//     return -1;
//   }
//   *w = thumb->Xsize;
//   *h = thumb->Ysize;
//   int cw = *w / 2 > 0 ? *w / 2 : 1, ch = *h / 2 > 0 ? *h / 2 : 1;
//   int r = vips_smartcrop(thumb, &out, cw, ch, "interesting", VIPS_INTERESTING_ATTENTION,
//                          "attention_x", x, "attention_y", y, NULL);
//   if (out) g_object_unref(out);
//   g_object_unref(thumb);
//   if (r) vips_error_clear();
//   return r;
// }
import "C"

import (
	"errors"
	"unsafe"
)

// configureVips sets what govips' Startup may leave at its defaults
// (a govips call made before New starts libvips with them): no operation
// cache, since renditions never repeat an operation and a cache only
// holds memory; no loaders its authors do not consider safe for hostile
// input (ImageMagick, PDF, OpenSlide, …), on top of the format allow-list
// in Process; and two malloc arenas, as MALLOC_ARENA_MAX=2 would, so that
// libvips' threads do not each keep an arena of freed image memory.
func configureVips() {
	C.vips_cache_set_max(0)
	C.vips_cache_set_max_mem(0)
	C.vips_cache_set_max_files(0)
	C.vips_block_untrusted_set(C.gboolean(1))
	C.mallopt(C.M_ARENA_MAX, 2)
}

// focalPoint returns where in the image attention falls, as fractions of
// its width and height (0.5, 0.5 is the centre), for pages that crop.
func focalPoint(src []byte) (float64, float64, error) {
	if len(src) == 0 {
		return 0, 0, errors.New("empty image")
	}
	var x, y, w, h C.int
	// src holds no Go pointers and libvips releases it before returning.
	if C.pl_focal(unsafe.Pointer(&src[0]), C.size_t(len(src)), &x, &y, &w, &h) != 0 || w == 0 || h == 0 {
		return 0, 0, errors.New("libvips smartcrop failed")
	}
	return float64(x) / float64(w), float64(y) / float64(h), nil
}
