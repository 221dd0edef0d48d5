# Writes a copy of one of etcd's installed .proto files (IN) to OUT that
# Debian's protoc and grpc_cpp_plugin compile: without the gogoproto import
# and options (Go code generation only) and without the google.api.http
# annotations (the HTTP gateway only). Nothing else changes, so the messages
# and services are etcd's own, on the wire as etcd speaks them.
# Run as: cmake -DIN=<installed .proto> -DOUT=<copy> -P strip_etcd_proto.cmake
if(NOT DEFINED IN OR NOT DEFINED OUT)
  message(FATAL_ERROR "strip_etcd_proto.cmake needs -DIN=... -DOUT=...")
endif()
file(READ "${IN}" text)
string(REGEX REPLACE "import \"gogoproto/gogo\\.proto\";[^\n]*\n" "" text "${text}")
string(REGEX REPLACE "import \"google/api/annotations\\.proto\";[^\n]*\n" "" text "${text}")
string(REGEX REPLACE "option \\(gogoproto\\.[a-z_]+\\) = [a-z]+;[^\n]*\n" "" text "${text}")
# An http annotation is one option block whose only ';' is its closing one.
string(REGEX REPLACE "option \\(google\\.api\\.http\\) = {[^;]*};" "" text "${text}")
# Field options such as [(gogoproto.nullable) = false] would need more: fail
# loudly rather than compile a different message.
if(text MATCHES "\\(gogoproto\\.|google\\.api")
  message(FATAL_ERROR "${IN}: a gogoproto or google.api use is left after "
    "stripping; strip_etcd_proto.cmake needs a rule for it")
endif()
file(WRITE "${OUT}.tmp" "${text}")
file(RENAME "${OUT}.tmp" "${OUT}")
