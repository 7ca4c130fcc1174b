#include "graph/tracer.h"

#include <algorithm>
#include <unordered_set>

#include "core/error.h"
#include "graph/kernels.h"

namespace mlx::graph {

namespace mx = formats::mlxfn;

namespace st {
mx::StateField i(int64_t v) { mx::StateField s; s.kind = 'i'; s.i = v; return s; }
mx::StateField f(double v) { mx::StateField s; s.kind = 'f'; s.f = double(float(v)); return s; }
mx::StateField d(double v) { mx::StateField s; s.kind = 'd'; s.f = v; return s; }
mx::StateField b(bool v) { mx::StateField s; s.kind = 'b'; s.i = v; return s; }
mx::StateField v(const Dims& v) { mx::StateField s; s.kind = 'v'; s.v = v; return s; }
mx::StateField n() { mx::StateField s; s.kind = 'n'; return s; }
mx::StateField t(MxDtype d) { mx::StateField s; s.kind = 't'; s.dtype = d; return s; }
}  // namespace st

static mx::ArrayDesc desc_of(const Tensor& t) {
  mx::ArrayDesc d;
  d.shape.assign(t.shape.begin(), t.shape.end());
  d.dtype = t.dtype;
  return d;
}

Val Tracer::input(Tensor t) {
  Val v{next_id_++, std::make_shared<Tensor>(std::move(t))};
  trace_.input_ids.push_back(v.id);
  trace_.inputs.push_back(desc_of(*v.t));
  mx::TapeEntry e;
  e.id = v.id;
  e.kind = mx::TapeEntry::kInput;
  trace_.tape.push_back(std::move(e));
  return v;
}

Val Tracer::constant(Tensor t) {
  round_to(t);
  Val v{next_id_++, std::make_shared<Tensor>(std::move(t))};
  mx::TapeEntry e;
  e.id = v.id;
  e.kind = mx::TapeEntry::kConstant;
  e.desc = desc_of(*v.t);
  e.owned = std::make_shared<std::string>(to_bytes(*v.t));
  e.data = reinterpret_cast<const uint8_t*>(e.owned->data());
  e.nbytes = e.owned->size();
  e.has_data = true;
  trace_.tape.push_back(std::move(e));
  return v;
}

// Elementwise primitives: MLX broadcasts their inputs at op level (the kernels see equal shapes), with
// BroadcastAxes so that shapeless replay recomputes the broadcast shape.
static bool is_elementwise(const std::string& n) {
  static const char* names[] = {"Add", "Subtract", "Multiply", "Divide", "Maximum", "Minimum", "Power", "Equal",
                                "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual", "LogicalAnd",
                                "LogicalOr", "Select", "BitwiseBinary", "Remainder", "LogAddExp", "ArcTan2"};
  for (const char* x : names)
    if (n == x) return true;
  return false;
}

Val Tracer::op(const std::string& name, const std::vector<Val>& in_vals, std::vector<mx::StateField> state,
               std::optional<MxDtype> out_dtype) {
  std::vector<Val> in = in_vals;
  if (is_elementwise(name) && in.size() > 1) {
    bool same = true;
    for (const Val& v : in) same &= v.shape() == in[0].shape();
    if (!same) {
      std::vector<Val> bc;
      for (size_t k = 0; k < in.size(); ++k) {
        Dims target = in[k].shape();
        size_t nd = 0;
        for (const Val& v : in) nd = std::max(nd, v.shape().size());
        bool full = target.size() == nd;
        for (const Val& v : in)
          for (size_t d = 0; full && d < v.shape().size(); ++d)
            if (v.shape()[d] != 1 && v.shape()[d] != target[nd - v.shape().size() + d]) full = false;
        if (full) {
          bc.push_back(in[k]);
          continue;
        }
        std::vector<Val> args = {in[k]};
        for (size_t j = 0; j < in.size(); ++j)
          if (j != k) args.push_back(in[j]);
        bc.push_back(op("BroadcastAxes", args, {st::v({})}));
      }
      in = bc;
    }
  }
  // Matmul: MLX broadcasts the batch dims of both operands (BroadcastAxes ignoring the two matrix axes).
  if (name == "Matmul" && in.size() == 2 && in[0].shape().size() >= 2 && in[1].shape().size() >= 2) {
    Dims ba(in[0].shape().begin(), in[0].shape().end() - 2), bb(in[1].shape().begin(), in[1].shape().end() - 2);
    if (ba != bb) {
      Val a = op("BroadcastAxes", {in[0], in[1]}, {st::v({-2, -1})});
      Val b = op("BroadcastAxes", {in[1], in[0]}, {st::v({-2, -1})});
      in = {a, b};
    }
  }
  mx::TapeEntry e;
  e.id = next_id_++;
  e.kind = mx::TapeEntry::kPrimitive;
  e.stream = stream_;
  e.name = name;
  e.state = std::move(state);
  std::vector<const Tensor*> args;
  for (const Val& v : in) {
    e.inputs.push_back(v.id);
    args.push_back(v.t.get());
  }
  mx::ArrayDesc d;
  // Default: the first value input's dtype (Select's first input is the condition).
  size_t src = name == "Select" && in.size() > 1 ? 1 : 0;
  d.dtype = out_dtype ? *out_dtype : (in.empty() ? MxDtype{} : in[src].t->dtype);
  e.outputs.push_back(d);
  std::vector<Tensor> out = eval_primitive(e, args, "export");
  e.outputs[0] = desc_of(out.at(0));
  Val v{e.id, std::make_shared<Tensor>(std::move(out[0]))};
  trace_.tape.push_back(std::move(e));
  return v;
}

// Drops tape entries no output depends on (constants built and then superseded, e.g. per-expert weights that were
// stacked into one constant), as MLX's compile_dfs walks back from the outputs. Function inputs always stay.
static void prune_unreachable(mx::Trace& t) {
  std::unordered_set<uint64_t> live(t.output_ids.begin(), t.output_ids.end());
  std::vector<bool> keep(t.tape.size(), false);
  for (size_t i = t.tape.size(); i-- > 0;) {
    const mx::TapeEntry& e = t.tape[i];
    bool used = e.kind == mx::TapeEntry::kInput || live.count(e.id);
    for (uint64_t s : e.sibling_ids) used = used || live.count(s);
    if (!used) continue;
    keep[i] = true;
    live.insert(e.inputs.begin(), e.inputs.end());
  }
  std::vector<mx::TapeEntry> kept;
  kept.reserve(t.tape.size());
  for (size_t i = 0; i < t.tape.size(); ++i)
    if (keep[i]) kept.push_back(std::move(t.tape[i]));
  t.tape = std::move(kept);
}

mx::Function Tracer::finish(const std::vector<Val>& outputs, bool shapeless, std::string metadata) {
  mx::Function f;
  f.shapeless = shapeless;
  f.metadata = std::move(metadata);
  for (const Val& v : outputs) trace_.output_ids.push_back(v.id);
  prune_unreachable(trace_);
  f.traces.push_back(std::move(trace_));
  trace_ = {};
  return f;
}

}  // namespace mlx::graph
