#!/usr/bin/env bash
# Installs what the unit-test study's Java execution needs on Debian 12: a JDK, JUnit 4
# (with hamcrest) and JaCoCo (agent + core, with ASM). Idempotent.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
command -v javac >/dev/null || need+=(default-jdk-headless)
[ -f /usr/share/java/junit4.jar ] || need+=(junit4)
[ -f /usr/share/java/hamcrest-core.jar ] || need+=(libhamcrest-java)
[ -f /usr/share/java/org.jacoco.agent.jar ] || need+=(libjacoco-java)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-java: need root to apt-get install ${need[*]}" >&2; exit 1
  fi
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
javac -version
