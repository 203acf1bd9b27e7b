/* SPDX-License-Identifier: Apache-2.0 */
/* See rd.h: rd_clock() lives there. */
#include "rd.h"
