// PLACEHOLDER: replaced by the real kernels of this family.
#include "backends/cpu/cpu_backend.h"
#include "lightning_core/error.h"
namespace lc::cpu {
void lstm_cell(const backend::LstmCellProblem&) { fail<NotSupportedError>("lstm_cell", "expected an implemented CPU kernel, got none yet"); }
void gru_cell(const backend::GruCellProblem&) { fail<NotSupportedError>("gru_cell", "expected an implemented CPU kernel, got none yet"); }
}
