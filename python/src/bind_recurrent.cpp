#include "bindings.h"

namespace lc::py {

void bind_recurrent(nb::module_& m) {
  m.def("lstm_cell", op<&lstm_cell>(), arr("x"), arr("h"), arr("c"), arr("w_ih"), arr("w_hh"),
        "b_ih"_a = nb::none(), "b_hh"_a = nb::none(), LC_POLICY_ARGS,
        "lstm_cell(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None, device=None, policy=None)\n"
        "    -> (h_new, c_new)\n\n"
        "One LSTM step as torch.nn.LSTMCell: x (B, I), h and c (B, H), w_ih (4H, I),\n"
        "w_hh (4H, H), optional biases (4H,); gates i, f, g, o. float32.");
  m.def("lstm", op<&lstm>(), arr("x"), arr("h0"), arr("c0"), arr("w_ih"), arr("w_hh"),
        "b_ih"_a = nb::none(), "b_hh"_a = nb::none(), LC_POLICY_ARGS,
        "lstm(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, device=None, policy=None)\n"
        "    -> (output, h_n, c_n)\n\n"
        "One LSTM layer over a sequence x (T, B, I) from h0, c0 (B, H), as torch.nn.LSTM\n"
        "(seq-first): output (T, B, H) holds every step's h; h_n, c_n (B, H) the last state.\n"
        "The input projection of all T steps is one GEMM. float32.");
  m.def("gru_cell", op<&gru_cell>(), arr("x"), arr("h"), arr("w_ih"), arr("w_hh"),
        "b_ih"_a = nb::none(), "b_hh"_a = nb::none(), LC_POLICY_ARGS,
        "gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None, device=None, policy=None) -> h_new\n\n"
        "One GRU step as torch.nn.GRUCell: x (B, I), h (B, H), w_ih (3H, I), w_hh (3H, H),\n"
        "optional biases (3H,); gates r, z, n with n = tanh(x_n + b_in + r * (h W_hn^T + b_hn)).\n"
        "float32.");
}

}  // namespace lc::py
