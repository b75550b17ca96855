// zlib, for the recordings' compressed blocks (compress2 / uncompress, one block at a time).
#include <zlib.h>
