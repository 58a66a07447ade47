// Entry point of livefit_header_check, the program made of one generated unit per public
// header (tests/build/CMakeLists.txt). Building it is the test; running it only shows that
// the link produced a program.
int main() { return 0; }
