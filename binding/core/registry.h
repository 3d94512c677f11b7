// Static registration of the addon's modules: each binding file registers an init
// function that adds its exports, so files stay independent (one concern per file).
#pragma once
#include <napi.h>
#include <functional>
#include <string>
#include <vector>

namespace xt {

using ModuleInit = void (*)(Napi::Env env, Napi::Object exports);

struct ModuleEntry {
  const char* name;
  ModuleInit init;
};

std::vector<ModuleEntry>& ModuleRegistry();

struct ModuleRegistrar {
  ModuleRegistrar(const char* name, ModuleInit init) { ModuleRegistry().push_back({name, init}); }
};

}  // namespace xt

#define XT_REGISTER_MODULE(name, fn) \
  static ::xt::ModuleRegistrar xt_registrar_##name(#name, fn)
