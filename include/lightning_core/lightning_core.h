// The whole public C++ API.
#pragma once

#include "lightning_core/device.h"
#include "lightning_core/dtype.h"
#include "lightning_core/error.h"
#include "lightning_core/ops.h"
#include "lightning_core/policy.h"
#include "lightning_core/session.h"
#include "lightning_core/shape.h"
#include "lightning_core/stats.h"
#include "lightning_core/tensor.h"
#include "lightning_core/version.h"
