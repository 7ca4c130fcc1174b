#include "graph/tracer.h"

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

Val Tracer::op(const std::string& name, const std::vector<Val>& in, std::vector<mx::StateField> state,
               std::optional<MxDtype> out_dtype) {
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

mx::Function Tracer::finish(const std::vector<Val>& outputs, bool shapeless, std::string metadata) {
  mx::Function f;
  f.shapeless = shapeless;
  f.metadata = std::move(metadata);
  for (const Val& v : outputs) trace_.output_ids.push_back(v.id);
  f.traces.push_back(std::move(trace_));
  trace_ = {};
  return f;
}

}  // namespace mlx::graph
