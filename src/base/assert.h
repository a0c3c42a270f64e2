/* Invariants. MIMIC_ASSERT checks a programming error (a shape, a state, an index) in every build
 * and aborts with the expression and its place when it does not hold; MIMIC_DASSERT is the same
 * check compiled only into debug builds (NDEBUG unset), for hot loops where a release build cannot
 * pay for it. Neither is for input from outside: bad input gets an error code, never an abort. */
#ifndef MIMIC_BASE_ASSERT_H
#define MIMIC_BASE_ASSERT_H

/* Prints "file:line: function: assertion `expr' failed" to stderr and aborts. Never returns. */
_Noreturn void mimic__assert_fail(const char *expr, const char *file, int line, const char *func);

#define MIMIC_ASSERT(cond)                                                                         \
  ((cond) ? (void)0 : mimic__assert_fail(#cond, __FILE__, __LINE__, __func__))

#ifdef NDEBUG
#define MIMIC_DASSERT(cond) ((void)0)
#else
#define MIMIC_DASSERT(cond) MIMIC_ASSERT(cond)
#endif

#endif
