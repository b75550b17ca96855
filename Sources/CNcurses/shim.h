// The only C the project needs: ncursesw with wide characters, and accessors for what Swift 6 cannot
// import (global variables are not concurrency-safe; function-like macros are not imported).
#ifndef POOLSCOPE_CNCURSES_SHIM_H
#define POOLSCOPE_CNCURSES_SHIM_H

#define NCURSES_WIDECHAR 1
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#include <locale.h>
#include <ncurses.h>

static inline WINDOW *poolscope_stdscr(void) { return stdscr; }
static inline int poolscope_colors(void) { return COLORS; }
static inline int poolscope_color_pairs(void) { return COLOR_PAIRS; }
static inline int poolscope_lines(void) { return LINES; }
static inline int poolscope_cols(void) { return COLS; }
static inline attr_t poolscope_a_bold(void) { return A_BOLD; }
static inline attr_t poolscope_a_reverse(void) { return A_REVERSE; }
static inline attr_t poolscope_a_dim(void) { return A_DIM; }
static inline attr_t poolscope_color_pair(int pair) { return COLOR_PAIR(pair); }
static inline int poolscope_key_resize(void) { return KEY_RESIZE; }
static inline int poolscope_key_left(void) { return KEY_LEFT; }
static inline int poolscope_key_right(void) { return KEY_RIGHT; }
static inline int poolscope_key_up(void) { return KEY_UP; }
static inline int poolscope_key_down(void) { return KEY_DOWN; }
static inline int poolscope_key_enter(void) { return KEY_ENTER; }
static inline void poolscope_set_locale(void) { setlocale(LC_ALL, ""); }

#endif
