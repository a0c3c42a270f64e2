/* The base layer: everything below the domain layers. Include this one header. */
#ifndef MIMIC_BASE_H
#define MIMIC_BASE_H
#include "base/alloc.h"
#include "base/assert.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/config.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/hash.h"
#include "base/json.h"
#include "base/log.h"
#include "base/map.h"
#include "base/queue.h"
#include "base/rng.h"
#include "base/str.h"
#include "base/utf8.h"
#endif
